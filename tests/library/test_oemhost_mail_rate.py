"""library/oemhost_mail_rate.py: counts, limits and events as the monitor reads them.

The database is a real SQLite file with policyd-rate-limit's own schema (the statements
below are the daemon's, policyd_rate_limit/utils.py database_init); the journal entries
are the shape ``journalctl -o json`` prints, with Postfix's real reject line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from oemhost.config import PROJECT_DIR

MODULE = PROJECT_DIR / "library/oemhost_mail_rate.py"
_spec = importlib.util.spec_from_file_location("oemhost_mail_rate", MODULE)
rate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rate)

NOW = 1_800_000_000
CONFIG = {
    "sqlite_config": {"database": "/nonexistent"},
    "limits": [[100, 3600], [1000, 86400]],
    "limits_by_id": {"news@bulk3.example": [[5, 3600], [8, 86400]],
                     "info@shop1.example": [[50, 3600], [500, 86400]]},
}
REJECT = ("NOQUEUE: reject: RCPT from unknown[10.203.12.1]: 450 4.7.1 <info@cafe2.example>: "
          "Recipient address rejected: Sending limit reached for this mailbox "
          "[oemhost-rate-limit], try again later; from=<news@bulk3.example> "
          "to=<info@cafe2.example> proto=ESMTP helo=<client.test>")
LOCKED = ("NOQUEUE: reject: RCPT from unknown[10.203.12.1]: 554 5.7.1 <info@shop1.example>: "
          "SASL login name rejected: Sending is disabled for this mailbox [oemhost-locked], "
          "contact support; from=<info@shop1.example> to=<x@other.example> proto=ESMTP "
          "helo=<client.test>")


def make_db(path, rows, hits=()):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS mail_count (id varchar(40) NOT NULL, "
                 "date bigint NOT NULL)")
    conn.execute("CREATE TABLE IF NOT EXISTS limit_report (id varchar(40) NOT NULL, "
                 "delta int NOT NULL, hit int NOT NULL DEFAULT 0)")
    conn.execute("CREATE INDEX IF NOT EXISTS mail_count_index ON mail_count(id, date)")
    conn.executemany("INSERT INTO mail_count VALUES (?, ?)", rows)
    conn.executemany("INSERT INTO limit_report (id, delta, hit) VALUES (?, ?, ?)", hits)
    conn.commit()
    conn.close()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "db.sqlite3"
    rows = ([("news@bulk3.example", NOW - 60 * i) for i in range(5)]       # 5 in the hour
            + [("news@bulk3.example", NOW - 7200)]                           # 1 more today
            + [("info@shop1.example", NOW - 10), ("info@shop1.example", NOW - 90000)]
            + [("stranger@x.example", NOW - 5)])                             # default limits
    make_db(path, rows, hits=[("news@bulk3.example", 3600, 2)])
    return path


def journal(*messages, service="postfix/submission/smtpd"):
    def read(since):
        assert since == NOW - 600
        return [{"MESSAGE": m, "SYSLOG_IDENTIFIER": service,
                 "__REALTIME_TIMESTAMP": str((NOW - 30 + i) * 1_000_000)}
                for i, m in enumerate(messages)]
    return read


def collect(db, **kw):
    args = {"since": 600, "senders": [], "events": True, "max_events": 1000,
            "journal": journal(REJECT, "connect from unknown[10.0.0.1]", LOCKED)}
    args.update(kw)
    return rate.collect(json.dumps(CONFIG), str(db), NOW, **args)


def test_counts_limits_and_who_is_over(db):
    out = collect(db)
    by = {r["sender"]: r for r in out["senders"]}
    assert out["over_limit"] == ["news@bulk3.example"]
    assert by["news@bulk3.example"]["windows"] == [
        {"seconds": 3600, "limit": 5, "sent": 5, "over": True},
        {"seconds": 86400, "limit": 8, "sent": 6, "over": False}]
    assert by["news@bulk3.example"]["hits"] == {"3600": 2}
    assert by["info@shop1.example"]["windows"] == [
        {"seconds": 3600, "limit": 50, "sent": 1, "over": False},
        {"seconds": 86400, "limit": 500, "sent": 1, "over": False}]
    # a login the configuration does not list gets the default limits
    assert [w["limit"] for w in by["stranger@x.example"]["windows"]] == [100, 1000]
    assert [r["sender"] for r in out["senders"]][0] == "news@bulk3.example"


def test_events_are_parsed_from_postfix_reject_lines(db):
    out = collect(db)
    assert [(e["kind"], e["sender"], e["recipient"], e["reply"]) for e in out["events"]] == [
        ("rate_limit", "news@bulk3.example", "info@cafe2.example", "450 4.7.1"),
        ("locked", "info@shop1.example", "x@other.example", "554 5.7.1"),
    ]
    first = out["events"][0]
    assert first["client"] == "unknown[10.203.12.1]"
    assert first["service"] == "postfix/submission/smtpd"
    assert first["time"] == "2027-01-15T07:59:30+00:00" and first["timestamp"] == NOW - 30


def test_filter_by_sender_and_limit_events(db):
    out = collect(db, senders=["info@shop1.example"], max_events=5)
    assert [r["sender"] for r in out["senders"]] == ["info@shop1.example"]
    assert [e["kind"] for e in out["events"]] == ["locked"]
    assert collect(db, max_events=1)["events"][0]["kind"] == "locked"  # the newest
    assert collect(db, events=False)["events"] == []


def test_nothing_recorded_yet(tmp_path):
    out = collect(tmp_path / "missing.sqlite3", journal=journal())
    assert out == {"senders": [], "over_limit": [], "events": [], "now": NOW}
    assert not (tmp_path / "missing.sqlite3").exists()


def test_reading_never_writes(db):
    before = (db.read_bytes(), os.stat(db).st_mtime_ns)
    collect(db)
    assert (db.read_bytes(), os.stat(db).st_mtime_ns) == before
    conn = rate.connect_ro(str(db))
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM mail_count")
    conn.close()


def test_database_without_report_table(tmp_path):
    path = tmp_path / "db.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE mail_count (id varchar(40) NOT NULL, date bigint NOT NULL)")
    conn.execute("INSERT INTO mail_count VALUES ('a@b.example', ?)", (NOW,))
    conn.commit()
    conn.close()
    out = collect(path, events=False)
    assert out["senders"][0]["hits"] == {}


@pytest.mark.parametrize("message", [
    REJECT.replace("[oemhost-rate-limit]", ""),                 # another reject
    "warning: hostname does not resolve [oemhost-rate-limit]",  # marker but not a reject
    None,
])
def test_other_lines_are_not_events(message):
    assert rate.parse_event({"MESSAGE": message, "__REALTIME_TIMESTAMP": "1"}) is None


def run_module(args: dict, check: bool) -> dict:
    """Run the module the way Ansible does (JSON args on stdin), return its result."""
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check}}
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    return json.loads(proc.stdout)


@pytest.mark.parametrize("check", [True, False])
def test_module_reads_and_changes_nothing(tmp_path, db, check):
    config = tmp_path / "policyd-rate-limit.yaml"
    config.write_text(json.dumps({**CONFIG, "sqlite_config": {"database": str(db)}}))
    # real rows from the last hour, so the module's own clock sees them
    make_db(db, [("news@bulk3.example", int(time.time()) - 1)] * 5)
    before = db.read_bytes()
    out = run_module({"config": str(config), "events": False}, check)
    assert out["changed"] is False and "failed" not in out, out
    assert "news@bulk3.example" in out["over_limit"]
    assert db.read_bytes() == before


def test_module_bad_input_is_a_clear_error(tmp_path):
    out = run_module({"config": str(tmp_path / "nope.yaml")}, True)
    assert out["failed"] and "is the mail role applied?" in out["msg"]
    out = run_module({"config": str(tmp_path / "nope.yaml"), "since": 0}, True)
    assert out["failed"] and out["msg"] == "since must be a number of seconds >= 1"
    out = run_module({"bogus": 1}, True)
    assert out["failed"] and "bogus" in out["msg"]
