"""The backup role's node-side script: its plain functions (the lab test runs it for real)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from datetime import UTC, datetime

import pytest

from oemhost.config import PROJECT_DIR

SCRIPT = PROJECT_DIR / "roles/backup/files/usr/local/sbin/oemhost-backup"


def _load():
    loader = importlib.machinery.SourceFileLoader("oemhost_backup_script", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


bk = _load()


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-24T03:00:00Z", datetime(2026, 11, 24, 3, 0, tzinfo=UTC)),
    ("2026-11-24t03:00z", datetime(2026, 11, 24, 3, 0, tzinfo=UTC)),
    ("2026-11-24T12:00:00+09:00", datetime(2026, 11, 24, 3, 0, tzinfo=UTC)),
    ("2026-11-24T21:41:55.761739757Z", datetime(2026, 11, 24, 21, 41, 55, 761739,
                                                 tzinfo=UTC)),
    ("20261124t030000z", datetime(2026, 11, 24, 3, 0, tzinfo=UTC)),
])
def test_parse_time(text, expected):
    assert bk.parse_time(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-11-24", "2026-11-24T03:00:00Z;rm", ""])
def test_parse_time_refuses(text):
    with pytest.raises(bk.Failure):
        bk.parse_time(text)


SNAPS = [{"id": f"{c * 64}", "short_id": c * 8, "time": t, "_time": bk.parse_time(t)}
         for c, t in (("a", "2026-11-22T03:00:00Z"), ("b", "2026-11-23T03:00:00Z"),
                      ("c", "2026-11-24T03:00:00Z"))]


def test_choose_snapshot():
    assert bk.choose_snapshot(SNAPS, None, None)["short_id"] == "cccccccc"
    assert bk.choose_snapshot(SNAPS, "latest", None)["short_id"] == "cccccccc"
    assert bk.choose_snapshot(SNAPS, "bbbbbbbb", None)["short_id"] == "bbbbbbbb"
    assert bk.choose_snapshot(SNAPS, None, "2026-11-23T12:00:00Z")["short_id"] == "bbbbbbbb"
    assert bk.choose_snapshot(SNAPS, None, "2026-11-23T03:00:00Z")["short_id"] == "bbbbbbbb"
    for args in ((SNAPS, "dddddddd", None), (SNAPS, None, "2026-11-21T00:00:00Z"),
                 ([], None, None)):
        with pytest.raises(bk.Failure):
            bk.choose_snapshot(*args)


def test_only_well_named_managed_databases_are_dumped():
    out = ("shop1_wp\toemhost:shop1\n"
           "shop1_x\toemhost:shop2\n"         # comment names another tenant
           "Shop1_a\toemhost:Shop1\n"         # not a tenant id
           "shop1_b;drop\toemhost:shop1\n"    # not a database name
           "mysql\t\n")
    assert bk._managed(out) == [("shop1", "shop1_wp")]


def test_sftp_command_is_built_from_checked_values():
    sftp = {"key": "/etc/oemhost/backup/id_ed25519", "port": 2222, "connect_timeout": 5,
            "known_hosts": "/etc/oemhost/backup/known_hosts",
            "strict_host_key_checking": "yes", "login": "backup@store1"}
    argv = bk.restic_argv({"sftp": sftp}, "snapshots")
    assert argv[:2] == ["restic", "-o"] and argv[-1] == "snapshots"
    assert argv[2] == ("sftp.command=ssh -i /etc/oemhost/backup/id_ed25519 -p 2222 "
                       "-o BatchMode=yes -o ConnectTimeout=5 -o ServerAliveInterval=30 "
                       "-o UserKnownHostsFile=/etc/oemhost/backup/known_hosts "
                       "-o StrictHostKeyChecking=yes backup@store1 -s sftp")
    assert bk.restic_argv({"sftp": None}, "init") == ["restic", "init"]


def test_last_line_puts_ssh_reason_first():
    err = "ssh: connect to host 10.0.0.9 port 22: No route to host\nFatal: session ended\n"
    assert bk.last_line(err) == ("ssh: connect to host 10.0.0.9 port 22: No route to host; "
                                 "Fatal: session ended")
    assert bk.last_line("") == ""
