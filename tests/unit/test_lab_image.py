"""The lab image takes its mirror from the host's apt sources, never a hard-coded host."""

import pytest

from oemhost.lab import image
from oemhost.lab.system import LabError


def write(tmp_path, name, text):
    d = tmp_path / "sources.list.d"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text)


def test_deb822_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("OEMHOST_LAB_MIRROR", raising=False)
    write(tmp_path, "debian.sources", """Types: deb
# a comment
URIs: http://mirror.example.jp/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example.jp/debian-security
Suites: bookworm-security
Components: main
""")
    assert image.host_mirrors(tmp_path) == ("http://mirror.example.jp/debian",
                                            "http://security.example.jp/debian-security")


def test_one_line_sources_and_disabled_stanzas(tmp_path, monkeypatch):
    monkeypatch.delenv("OEMHOST_LAB_MIRROR", raising=False)
    write(tmp_path, "off.sources", "Enabled: no\nTypes: deb\nURIs: http://off/debian\n"
                                   "Suites: bookworm\n")
    (tmp_path / "sources.list").write_text(
        "# deb http://commented/debian bookworm main\n"
        "deb [arch=amd64] http://ftp.jp.debian.org/debian/ bookworm main\n"
        "deb http://security.debian.org/debian-security bookworm-security main\n")
    mirror, security = image.host_mirrors(tmp_path)
    assert mirror == "http://ftp.jp.debian.org/debian"
    assert security == "http://security.debian.org/debian-security"


def test_no_mirror_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("OEMHOST_LAB_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    with pytest.raises(LabError, match="no Debian mirror found"):
        image.host_mirrors(tmp_path)


def test_override_and_key_follow_inputs(tmp_path, monkeypatch):
    (tmp_path / "sources.list.d").mkdir()
    monkeypatch.setenv("OEMHOST_LAB_MIRROR", "http://local/debian/")
    assert image.host_mirrors(tmp_path)[0] == "http://local/debian"
    key = image.image_key()
    monkeypatch.setattr(image, "packages", lambda: ["apache2", "postfix", "extra"])
    assert image.image_key() != key


def test_package_list_is_clean():
    pkgs = image.packages()
    assert len(pkgs) == len(set(pkgs))
    assert all(p and " " not in p and not p.startswith("#") for p in pkgs)
