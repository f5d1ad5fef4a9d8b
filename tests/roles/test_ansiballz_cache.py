"""The common role's bytecode cache for Ansible's module payloads (oemhost_ansiballz_cache).

Runs the node-side importer in the node's Python (Debian 12's /usr/bin/python3 is the
lab nodes' interpreter) and in the controller's: synthetic payload zips for the importer's
own promises, and real ansible-core module runs through it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from oemhost.config import PROJECT_DIR

CACHE_MODULE = PROJECT_DIR / "roles/common/files/oemhost_ansiballz_cache.py"
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the cache serves root only")

PYTHONS = [p for p in ("/usr/bin/python3", sys.executable) if Path(p).exists()]


def _site(tmp_path: Path, cache: Path) -> Path:
    """A user site dir holding the importer and its .pth, as the role installs them."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "oemhost_ansiballz_cache.py").write_text(CACHE_MODULE.read_text())
    (site / "oemhost-ansiballz-cache.pth").write_text(
        f"import oemhost_ansiballz_cache; oemhost_ansiballz_cache.CACHE_DIR = {str(cache)!r}\n")
    return site


def _payload(tmp_path: Path, run: str, value: str, name: str = "ansible_demo_payload") -> Path:
    """A zip laid out like AnsiballZ's: <tmp>/<name>_<random>/<name>.zip."""
    d = tmp_path / f"{name}_{run}"
    d.mkdir()
    z = d / f"{name}.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("demo/__init__.py", "")
        zf.writestr("demo/mod.py",
                    f"VALUE = {value!r}\n\ndef boom():\n    raise RuntimeError('x')\n")
    return z


IMPORT = """
import builtins, json, sys, traceback
import site
site.addsitedir(sys.argv[1])
if sys.argv[3] == "no-compile":
    def refuse(*a, **k):
        raise AssertionError("compiled although cached")
    builtins.compile = refuse
sys.path.insert(0, sys.argv[2])
import demo.mod
try:
    demo.mod.boom()
except RuntimeError:
    where = traceback.extract_tb(sys.exc_info()[2])[-1].filename
print(json.dumps({"value": demo.mod.VALUE, "file": demo.mod.__file__, "tb": where,
                  "loader": type(demo.mod.__loader__).__name__}))
"""


def _import(python: str, site: Path, payload: Path, mode: str = "") -> dict:
    out = subprocess.run([python, "-c", IMPORT, str(site), str(payload), mode],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("python", PYTHONS)
def test_compiled_once_then_read_from_the_cache_under_each_runs_own_name(tmp_path, python):
    cache = tmp_path / "cache"
    site = _site(tmp_path, cache)
    first = _import(python, site, _payload(tmp_path, "a1", "one"))
    assert first["value"] == "one"
    assert first["loader"] == "CachingZipImporter"
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 2  # demo/__init__.py and demo/mod.py
    assert oct(cache.stat().st_mode & 0o777) == "0o700"

    # another run, another temp dir, same source: nothing is compiled, and the module, its
    # code and its tracebacks name this run's file
    second_zip = _payload(tmp_path, "b2", "one")
    second = _import(python, site, second_zip, "no-compile")
    assert second["value"] == "one"
    assert second["file"] == second["tb"] == f"{second_zip}/demo/mod.py"
    assert sorted(p.name for p in cache.iterdir()) == entries

    # changed source: compiled again, the old entry is not used
    third = _import(python, site, _payload(tmp_path, "c3", "two"))
    assert third["value"] == "two"
    assert len(list(cache.iterdir())) == 3


@pytest.mark.parametrize("python", PYTHONS)
def test_other_zips_and_a_broken_entry_are_left_to_python(tmp_path, python):
    cache = tmp_path / "cache"
    site = _site(tmp_path, cache)
    other = _import(python, site, _payload(tmp_path, "x", "plain", name="some_archive"))
    assert other["value"] == "plain" and other["loader"] == "zipimporter"
    assert not cache.exists()

    _import(python, site, _payload(tmp_path, "a1", "one"))
    for entry in cache.iterdir():  # a torn or foreign file is compiled over, not trusted
        entry.write_bytes(b"\x00garbage")
    assert _import(python, site, _payload(tmp_path, "a2", "one"))["value"] == "one"


def test_real_module_runs_through_the_cache(tmp_path):
    """ansible-core's own payloads: the second run compiles nothing of module_utils."""
    cache = tmp_path / "cache"
    site = _site(tmp_path, cache)
    userbase = tmp_path / "userbase"
    ver = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(f'{sys.version_info[0]}."
                          "{sys.version_info[1]}')"], capture_output=True, text=True,
                         check=True).stdout.strip()
    user_site = userbase / "lib" / f"python{ver}" / "site-packages"
    user_site.mkdir(parents=True)
    for f in site.iterdir():
        (user_site / f.name).write_text(f.read_text())
    env = dict(os.environ, PYTHONUSERBASE=str(userbase),
               ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg"))
    cmd = [str(VENV_BIN / "ansible"), "localhost", "-c", "local", "-o",
           "-e", "ansible_python_interpreter=/usr/bin/python3",
           "-m", "ansible.builtin.file", "-a", f"path={tmp_path} state=directory"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=PROJECT_DIR)
    assert first.returncode == 0, first.stdout + first.stderr
    names = {p.name for p in cache.iterdir()}
    assert len(names) >= 20  # basic.py and the module_utils it imports
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=PROJECT_DIR)
    assert second.returncode == 0, second.stdout + second.stderr
    assert '"changed": false' in second.stdout
    assert {p.name for p in cache.iterdir()} == names
