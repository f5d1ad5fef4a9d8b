from __future__ import annotations

import grp
import os
import pwd
import stat

from modload import load as load_module

dirs = load_module("oemhost_dirs")
ME = pwd.getpwuid(os.getuid()).pw_name
MYGROUP = grp.getgrgid(os.getgid()).gr_name


def entry(path, mode="0750", parents=True):
    e = {"path": path, "owner": ME, "group": MYGROUP, "mode": mode}
    if parents:
        e["parents"] = {"owner": ME, "group": MYGROUP, "mode": "0755"}
    return e


def mode_of(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_creates_with_parents_then_nothing_to_do(tmp_path, run_module):
    args = {"base": str(tmp_path), "dirs": [entry("t1/web/a/b")]}
    res = run_module("oemhost_dirs", args, check=True)
    assert res["changed"] and not (tmp_path / "t1").exists()
    res = run_module("oemhost_dirs", args)
    assert res["changed"] and mode_of(tmp_path / "t1/web/a/b") == 0o750
    assert mode_of(tmp_path / "t1/web") == 0o755
    assert not run_module("oemhost_dirs", args)["changed"]


def test_fixes_mode(tmp_path, run_module):
    (tmp_path / "t1").mkdir(mode=0o777)
    os.chmod(tmp_path / "t1", 0o777)  # noqa: S103
    res = run_module("oemhost_dirs", {"base": str(tmp_path), "dirs": [entry("t1", "0700")]})
    assert res["changed"] and mode_of(tmp_path / "t1") == 0o700


def test_never_follows_a_planted_link(tmp_path, run_module):
    target = tmp_path / "outside"
    target.mkdir()
    os.chmod(target, 0o755)  # noqa: S103
    (tmp_path / "base" / "t1").mkdir(parents=True)
    os.symlink(target, tmp_path / "base" / "t1" / "web")
    res = run_module("oemhost_dirs", {"base": str(tmp_path / "base"),
                                      "dirs": [entry("t1/web", "0700"), entry("t2/ok")]})
    assert mode_of(target) == 0o755  # untouched
    assert not (target / "public_html").exists()
    assert res["problems"] == ["t1/web: web is a link or not a directory"]
    assert (tmp_path / "base" / "t2" / "ok").is_dir()  # the others still converge


def test_refuses_paths_that_leave_the_base():
    import pytest
    with pytest.raises(dirs.Problem):
        dirs.split_path("t1/../../etc")
