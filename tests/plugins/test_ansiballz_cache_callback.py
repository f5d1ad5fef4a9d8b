"""plugins/callback/oemhost_ansiballz_cache: built module payloads are reused by later runs,
and a change to what a payload is built from is never served from the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(PROJECT / "plugins" / "callback"))

import oemhost_ansiballz_cache as cache  # noqa: E402

MODULE = '''\
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={})
    module.exit_json(changed=False, answer="@ANSWER@")


if __name__ == "__main__":
    main()
'''

PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Ask the module
      probe_answer:
      register: got
    - name: Show it
      ansible.builtin.debug:
        msg: "ANSWER={{ got.answer }}"
"""


@pytest.fixture
def lib(tmp_path, monkeypatch):
    from ansible import constants as C

    library = tmp_path / "library"
    library.mkdir()
    monkeypatch.setattr(C, "DEFAULT_MODULE_PATH", [str(library)])
    monkeypatch.setattr(C, "DEFAULT_MODULE_UTILS_PATH", [])
    monkeypatch.setattr(C, "DEFAULT_ROLES_PATH", [])
    return library


def test_key_follows_the_module_sources(lib):
    mod = lib / "probe_answer.py"
    mod.write_text(MODULE.replace("@ANSWER@", "one"))
    first = cache.cache_key()
    assert cache.cache_key() == first  # stable while nothing changes
    mod.write_text(MODULE.replace("@ANSWER@", "two"))
    assert cache.cache_key() != first  # same size, new mtime: a new directory
    second = cache.cache_key()
    (lib / "other.py").write_text("# another module\n")
    assert cache.cache_key() != second


def test_install_links_the_run_cache_to_a_private_directory(lib, tmp_path):
    run_tmp, base = tmp_path / "run", tmp_path / "home" / "ansiballz"
    run_tmp.mkdir()
    target = cache.install(run_tmp, base)
    assert target is not None and target.parent == base
    link = run_tmp / cache.CACHE_DIR_NAME
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert base.stat().st_mode & 0o777 == 0o700 and target.stat().st_mode & 0o777 == 0o700
    # a run that already has its own cache directory keeps it
    other = tmp_path / "run2"
    (other / cache.CACHE_DIR_NAME).mkdir(parents=True)
    assert cache.install(other, base) is None
    assert not (other / cache.CACHE_DIR_NAME).is_symlink()


def test_a_directory_others_can_write_is_not_used(lib, tmp_path):
    base = tmp_path / "shared"
    base.mkdir()
    base.chmod(0o777)
    run_tmp = tmp_path / "run"
    run_tmp.mkdir()
    assert cache.install(run_tmp, base) is None
    assert not (run_tmp / cache.CACHE_DIR_NAME).exists()


def test_unused_directories_are_pruned(lib, tmp_path):
    base = tmp_path / "ansiballz"
    old, recent = base / "old", base / "recent"
    for d in (old, recent):
        d.mkdir(parents=True)
        (d / "entry").write_text("x")
    week_ago = time.time() - cache.KEEP_UNUSED_SECONDS - 60
    os.utime(old, (week_ago, week_ago))
    run_tmp = tmp_path / "run"
    run_tmp.mkdir()
    used = cache.install(run_tmp, base)
    assert used is not None and used.is_dir()
    assert not old.exists() and recent.is_dir()


def run_playbook(tmp_path: Path, home: Path, **env_extra: str) -> str:
    book = tmp_path / "probe.yml"
    book.write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
               ANSIBLE_HOME=str(home), ANSIBLE_LIBRARY=str(tmp_path / "library"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_STDOUT_CALLBACK="json",
               **env_extra)
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(book)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    return result["plays"][0]["tasks"][1]["hosts"]["localhost"]["msg"]


def entries(home: Path) -> dict[str, float]:
    base = home / "oemhost" / "ansiballz"
    return {str(p.relative_to(base)): p.stat().st_mtime
            for p in base.glob("*/*probe_answer*") if not p.name.endswith(".lock")}


def test_runs_reuse_payloads_and_never_serve_a_stale_one(tmp_path):
    library, home = tmp_path / "library", tmp_path / "home"
    library.mkdir()
    mod = library / "probe_answer.py"
    mod.write_text(MODULE.replace("@ANSWER@", "one"))
    assert run_playbook(tmp_path, home) == "ANSWER=one"
    built = entries(home)
    assert len(built) == 1  # the payload outlived its run
    assert run_playbook(tmp_path, home) == "ANSWER=one"
    assert entries(home) == built  # the second run used it as it was
    # the module changes (same size): the next run must run the new code
    mod.write_text(MODULE.replace("@ANSWER@", "two"))
    assert run_playbook(tmp_path, home) == "ANSWER=two"
    assert len(entries(home)) == 2


def test_switched_off_by_the_environment(tmp_path):
    library, home = tmp_path / "library", tmp_path / "home"
    library.mkdir()
    (library / "probe_answer.py").write_text(MODULE.replace("@ANSWER@", "off"))
    assert run_playbook(tmp_path, home, OEMHOST_ANSIBALLZ_CACHE="0") == "ANSWER=off"
    assert entries(home) == {}
