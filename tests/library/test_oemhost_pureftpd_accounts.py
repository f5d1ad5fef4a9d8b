"""oemhost_pureftpd_accounts: the node's FTP logins in one call. The real pure-pw and
server are exercised by molecule/web; here `pure-pw` is a stand-in that records its calls
(or fails), so the module's own logic is tested on the host."""

from __future__ import annotations

import os
import pwd

import pytest

ME = pwd.getpwuid(os.getuid())
HASH = "$6$salt$" + "h" * 86


@pytest.fixture
def tool(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    script = bindir / "pure-pw"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n'
                      f'[ -e {tmp_path}/fail ] && {{ echo "mkdb broke" >&2; exit 1; }}\n'
                      'cp "$4" "$2"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return calls


def args(tmp_path, accounts):
    return {"accounts": accounts, "passwd_file": str(tmp_path / "passwd"),
            "pdb_file": str(tmp_path / "pdb"), "tls_list": str(tmp_path / "tls"),
            "tls_list_header": "managed\nsecond line"}


def acc(login, user=ME.pw_name, tls=True, d="/srv/hosting/x/web"):
    return {"login": login, "password_hash": HASH, "user": user, "dir": d, "tls_required": tls}


def test_writes_rebuilds_once_and_is_idempotent(tmp_path, tool, run_module):
    accounts = [acc("shop1-up", d="/srv/hosting/x/web/up", tls=False), acc("shop1"),
                acc("ghost1", user="no-such-user-here")]
    res = run_module("oemhost_pureftpd_accounts", args(tmp_path, accounts), check=True)
    assert res["changed"] and not (tmp_path / "passwd").exists() and not tool.exists()
    assert HASH not in str(res)
    res = run_module("oemhost_pureftpd_accounts", args(tmp_path, accounts))
    assert res["changed"] and res["rebuilt"] and res["skipped_logins"] == ["ghost1"], res
    uid, gid = ME.pw_uid, ME.pw_gid
    assert (tmp_path / "passwd").read_text() == (
        f"shop1:{HASH}:{uid}:{gid}::/srv/hosting/x/web/./::::::::::::\n"
        f"shop1-up:{HASH}:{uid}:{gid}::/srv/hosting/x/web/up/./::::::::::::\n")
    assert oct((tmp_path / "passwd").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "tls").read_text() == "# managed\n# second line\nshop1\n"
    assert tool.read_text().split() == ["mkdb", str(tmp_path / "pdb"), "-f",
                                        str(tmp_path / "passwd")]
    assert HASH not in str(res)  # the diff masks the hashes
    assert "shop1:(hash):" in res["diff"][0]["after"]
    res = run_module("oemhost_pureftpd_accounts", args(tmp_path, accounts))
    assert not res["changed"] and not res["rebuilt"], res
    assert len(tool.read_text().splitlines()) == 1


def test_failed_mkdb_puts_the_file_back(tmp_path, tool, run_module):
    run_module("oemhost_pureftpd_accounts", args(tmp_path, [acc("shop1")]))
    before = (tmp_path / "passwd").read_text()
    (tmp_path / "fail").touch()
    res = run_module("oemhost_pureftpd_accounts", args(tmp_path, [acc("shop1"), acc("shop2")]))
    assert res.get("failed") and "mkdb broke" in res["msg"], res
    assert (tmp_path / "passwd").read_text() == before


@pytest.mark.parametrize("bad", [
    acc("Bad:login"), acc("shop1", d="relative/dir"), acc("shop1", d="/srv/a/../etc"),
    {**acc("shop1"), "password_hash": "plain"}, acc("shop1", d="/srv/a\n/b"),
])
def test_bad_records_fail_and_change_nothing(tmp_path, tool, run_module, bad):
    res = run_module("oemhost_pureftpd_accounts", args(tmp_path, [bad]))
    assert res.get("failed") and "FTP accounts" in res["msg"], res
    assert not (tmp_path / "passwd").exists() and not tool.exists()


def test_only_users_replaces_their_logins_and_keeps_the_others(tmp_path, tool, run_module):
    other = pwd.getpwnam("daemon")
    full = [acc("keep1"), acc("keep1-up", tls=False, d="/srv/hosting/x/web/up"),
            acc("old1", user="daemon", d="/srv/hosting/y/web")]
    run_module("oemhost_pureftpd_accounts", args(tmp_path, full))
    before = (tmp_path / "passwd").read_text()
    # a scoped run for daemon's tenant: its login is renamed, the others stay as they are
    scoped = {**args(tmp_path, [acc("new1", user="daemon", d="/srv/hosting/y/web")]),
              "only_users": ["daemon"]}
    res = run_module("oemhost_pureftpd_accounts", scoped)
    assert res["changed"] and res["rebuilt"], res
    passwd = (tmp_path / "passwd").read_text().splitlines(keepends=True)
    assert [line.split(":")[0] for line in passwd] == ["keep1", "keep1-up", "new1"]
    assert passwd[:2] == before.splitlines(keepends=True)[:2]
    assert f":{other.pw_uid}:{other.pw_gid}::/srv/hosting/y/web/./" in passwd[2]
    assert (tmp_path / "tls").read_text() == "# managed\n# second line\nkeep1\nnew1\n"
    # the same scoped run again changes nothing; the full list gives the same files
    assert not run_module("oemhost_pureftpd_accounts", scoped)["changed"]
    full[2] = acc("new1", user="daemon", d="/srv/hosting/y/web")
    assert not run_module("oemhost_pureftpd_accounts", args(tmp_path, full))["changed"]
    # a scoped run without accounts (a suspended tenant) removes just its logins
    res = run_module("oemhost_pureftpd_accounts", {**args(tmp_path, []), "only_users": ["daemon"]})
    assert res["changed"]
    assert [ln.split(":")[0] for ln in (tmp_path / "passwd").read_text().splitlines()] == [
        "keep1", "keep1-up"]
    # a login of a user outside the scope is refused, nothing changes
    res = run_module("oemhost_pureftpd_accounts",
                     {**args(tmp_path, [acc("sneak")]), "only_users": ["daemon"]})
    assert res.get("failed") and "outside only_users: sneak" in res["msg"]
    assert "sneak" not in (tmp_path / "passwd").read_text()


def test_only_users_drops_lines_of_users_that_are_gone(tmp_path, tool, run_module):
    run_module("oemhost_pureftpd_accounts", args(tmp_path, [acc("keep1")]))
    passwd = tmp_path / "passwd"
    passwd.write_text(passwd.read_text() + f"ghost:{HASH}:4242424:4242424::/srv/x/./::::::::::::\n")
    res = run_module("oemhost_pureftpd_accounts", {**args(tmp_path, []), "only_users": ["daemon"]})
    assert res["changed"]
    assert [ln.split(":")[0] for ln in passwd.read_text().splitlines()] == ["keep1"]
