"""plugins/callback/oemhost_ansiballz_cache: built module payloads are reused by later runs,
and a change to what a payload is built from is never served from the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

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


def test_key_follows_the_module_sources(tmp_path):
    lib = tmp_path / "library"
    lib.mkdir()
    mod = lib / "probe_answer.py"
    mod.write_text(MODULE.replace("@ANSWER@", "one"))

    def key():
        return cache.cache_key([str(lib)], [], [])

    first = key()
    assert key() == first  # stable while nothing changes
    mod.write_text(MODULE.replace("@ANSWER@", "two"))
    assert key() != first  # same size, new mtime: a new directory
    second = key()
    (lib / "other.py").write_text("# another module\n")
    assert key() != second
    # a directory more to search (a role's library/) is another set of payloads
    assert cache.cache_key([str(lib), str(tmp_path / "roles/r/library")], [], []) != key()


def test_point_links_the_run_cache_to_a_private_directory(tmp_path):
    run_tmp, base = tmp_path / "run", tmp_path / "home" / "ansiballz"
    run_tmp.mkdir()
    target = cache.point(run_tmp, base, "k1")
    assert target == base / "k1"
    link = run_tmp / cache.CACHE_DIR_NAME
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert base.stat().st_mode & 0o777 == 0o700 and target.stat().st_mode & 0o777 == 0o700
    assert cache.point(run_tmp, base, "k1") == target  # the next play, same directories
    # a later play brings new directories: the run moves on to their digest's directory
    assert cache.point(run_tmp, base, "k2") == base / "k2"
    assert link.resolve() == (base / "k2").resolve() and (base / "k1").is_dir()
    # a run that already has its own cache directory keeps it
    other = tmp_path / "run2"
    (other / cache.CACHE_DIR_NAME).mkdir(parents=True)
    assert cache.point(other, base, "k1") is None
    assert not (other / cache.CACHE_DIR_NAME).is_symlink()


def test_a_directory_others_can_write_is_not_used(tmp_path):
    base = tmp_path / "shared"
    base.mkdir()
    run_tmp = tmp_path / "run"
    run_tmp.mkdir()
    assert cache.point(run_tmp, base, "k1") is not None
    base.chmod(0o777)
    # ... and a run that was using it goes back to a cache of its own
    assert cache.point(run_tmp, base, "k2") is None
    link = run_tmp / cache.CACHE_DIR_NAME
    assert link.is_dir() and not link.is_symlink() and not any(link.iterdir())


def test_unused_directories_are_pruned(tmp_path):
    base = tmp_path / "ansiballz"
    old, recent = base / "old", base / "recent"
    for d in (old, recent):
        d.mkdir(parents=True)
        (d / "entry").write_text("x")
    week_ago = time.time() - cache.KEEP_UNUSED_SECONDS - 60
    os.utime(old, (week_ago, week_ago))
    run_tmp = tmp_path / "run"
    run_tmp.mkdir()
    used = cache.point(run_tmp, base, "k1")
    assert used is not None and used.is_dir()
    assert not old.exists() and recent.is_dir()


def run_playbook(tmp_path: Path, home: Path, text: str = PLAYBOOK, **env_extra: str) -> str:
    book = tmp_path / "probe.yml"
    book.write_text(text)
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


ROLE_PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  roles: [probe]
"""

ROLE_TASKS = """\
- name: Ask the module
  probe_answer:
  register: got
- name: Show it
  ansible.builtin.debug:
    msg: "ANSWER={{ got.answer }}"
"""


def test_a_module_in_a_role_beside_the_playbook_is_never_stale(tmp_path):
    """The role's library/ is found only once the play is loaded: the digest covers it."""
    home, role = tmp_path / "home", tmp_path / "roles" / "probe"
    (tmp_path / "library").mkdir()
    (role / "tasks").mkdir(parents=True)
    (role / "library").mkdir()
    (role / "tasks" / "main.yml").write_text(ROLE_TASKS)
    mod = role / "library" / "probe_answer.py"
    mod.write_text(MODULE.replace("@ANSWER@", "one"))
    assert run_playbook(tmp_path, home, ROLE_PLAYBOOK) == "ANSWER=one"
    assert run_playbook(tmp_path, home, ROLE_PLAYBOOK) == "ANSWER=one"
    assert len(entries(home)) == 1
    mod.write_text(MODULE.replace("@ANSWER@", "two"))
    assert run_playbook(tmp_path, home, ROLE_PLAYBOOK) == "ANSWER=two"
