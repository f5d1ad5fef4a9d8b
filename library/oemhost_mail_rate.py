#!/usr/bin/python
"""Ansible module oemhost_mail_rate: read sending counts and limit events of a mail node."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: oemhost_mail_rate
short_description: Read per-sender sending counts, limits and recent limit events of a mail node
version_added: "0.1.0"
description:
  - Reads what the mail role's sending limits recorded on a node, for the monitor's mass-mail
    check and for ops. Nothing on the node is changed.
  - Counts come from the database of policyd-rate-limit (the policy service Postfix asks for
    every recipient of authenticated submission; it records one row per accepted recipient
    and refuses the next one when a sender reached a limit). Limits come from the same
    daemon's configuration, which the mail role renders from each mailbox's plan.
  - Events are Postfix's own log lines (systemd journal) for recipients refused because the
    sender was over its limit (C([oemhost-rate-limit]) in the reply), locked
    (C([oemhost-locked])) or suspended (C([oemhost-suspended])).
options:
  since:
    description: How far back to read events, in seconds.
    type: int
    default: 3600
  senders:
    description: Only report these senders (SASL logins, i.e. mailbox addresses). Empty means all.
    type: list
    elements: str
    default: []
  events:
    description: Whether to read limit events from the journal.
    type: bool
    default: true
  max_events:
    description: Keep at most this many events (the newest).
    type: int
    default: 1000
  config:
    description: The policyd-rate-limit configuration the mail role writes.
    type: path
    default: /etc/policyd-rate-limit.yaml
  database:
    description: The policyd-rate-limit SQLite database; by default the one its configuration names.
    type: path
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
notes:
  - Counts are recipients accepted per authenticated login (one message to three recipients
    counts three), the unit the plan's C(mail_limits) are enforced in.
  - A sender is I(over) a limit when its count in that window reached the limit: its next
    recipient is deferred (C(450 4.7.1)).
author: oemhost
"""

EXAMPLES = r"""
- name: Senders over their sending limits on this node
  oemhost_mail_rate:
    since: 900
  register: mail_rate

- name: Show them
  ansible.builtin.debug:
    var: mail_rate.over_limit

- name: One mailbox, no journal
  oemhost_mail_rate:
    senders: [info@example.jp]
    events: false
"""

RETURN = r"""
senders:
  description: Every sender with accepted mail in the longest limit window, most active first.
  returned: always
  type: list
  elements: dict
  sample:
    - sender: news@example.jp
      over_limit: true
      windows:
        - {seconds: 3600, limit: 200, sent: 200, over: true}
        - {seconds: 86400, limit: 2000, sent: 480, over: false}
      hits: {"3600": 12}
over_limit:
  description: Addresses of the senders over any of their limits now.
  returned: always
  type: list
  elements: str
  sample: [news@example.jp]
events:
  description:
    - Recipients refused because the sender was over a limit, locked or suspended, in the
      last C(since) seconds, oldest first.
  returned: always
  type: list
  elements: dict
  sample:
    - time: "2026-11-24T10:00:00.123456+00:00"
      kind: rate_limit
      sender: news@example.jp
      recipient: someone@example.com
      client: "unknown[192.0.2.7]"
      service: postfix/submission/smtpd
      reply: "450 4.7.1"
now:
  description: The node's clock when the counts were read (UNIX seconds).
  returned: always
  type: int
"""

import json
import os
import re
import sqlite3
import subprocess
import time
from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule

try:
    import yaml
except ImportError:  # pragma: no cover - python3-yaml is a dependency of policyd-rate-limit
    yaml = None

DEFAULT_DATABASE = "/var/lib/policyd-rate-limit/db.sqlite3"
SERVICES = ("postfix/submission/smtpd", "postfix/smtps/smtpd")
MARKERS = {"[oemhost-rate-limit]": "rate_limit", "[oemhost-locked]": "locked",
           "[oemhost-suspended]": "suspended"}
REJECT = re.compile(
    r"reject: RCPT from (?P<client>\S+): (?P<reply>\d{3} \d\.\d{1,3}\.\d{1,3}) "
    r"<(?P<rcpt>[^>]*)>: .*?; from=<(?P<sender>[^>]*)> to=<(?P<to>[^>]*)>")


def load_config(text: str) -> dict:
    """The policyd-rate-limit configuration (YAML, JSON is a subset)."""
    data = yaml.safe_load(text) if yaml is not None else json.loads(text)
    return data if isinstance(data, dict) else {}


def limits_for(config: dict, sender: str) -> list[tuple[int, int]]:
    """``[(limit, seconds), ...]`` that apply to ``sender`` (its own, else the default)."""
    by_id = config.get("limits_by_id") or {}
    limits = by_id[sender] if sender in by_id else (config.get("limits") or [])
    return [(int(n), int(s)) for n, s in limits]


def windows_of(config: dict) -> list[int]:
    """Every window length (seconds) any limit uses, shortest first."""
    seen = {int(s) for _, s in config.get("limits") or []}
    for limits in (config.get("limits_by_id") or {}).values():
        seen.update(int(s) for _, s in limits)
    return sorted(seen)


def connect_ro(path: str) -> sqlite3.Connection:
    """Open the database read-only (never creates or writes it)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def read_counts(conn: sqlite3.Connection, now: int, windows: list[int],
                senders: list[str] | None = None) -> dict[str, dict[int, int]]:
    """``{sender: {window: accepted recipients in the last window seconds}}``."""
    counts: dict[str, dict[int, int]] = {}
    for window in windows:
        rows = conn.execute("SELECT id, COUNT(*) FROM mail_count WHERE date >= ? GROUP BY id",
                            (now - window,))
        for sender, n in rows:
            if senders and sender not in senders:
                continue
            counts.setdefault(sender, {})[window] = n
    for per in counts.values():
        for window in windows:
            per.setdefault(window, 0)
    return counts


def read_hits(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Refusals per sender and window since the daemon's last daily cleanup."""
    try:
        rows = conn.execute("SELECT id, delta, hit FROM limit_report").fetchall()
    except sqlite3.OperationalError:  # no report table: the daemon records no hits
        return {}
    hits: dict[str, dict[str, int]] = {}
    for sender, delta, n in rows:
        hits.setdefault(sender, {})[str(delta)] = n
    return hits


def evaluate(config: dict, counts: dict[str, dict[int, int]],
             hits: dict[str, dict[str, int]]) -> list[dict]:
    """One record per sender with its limits, counts and whether it is over a limit."""
    out = []
    for sender, per in counts.items():
        windows = []
        for limit, seconds in limits_for(config, sender):
            sent = per.get(seconds, 0)
            windows.append({"seconds": seconds, "limit": limit, "sent": sent,
                            "over": sent >= limit})
        out.append({"sender": sender, "windows": windows,
                    "over_limit": any(w["over"] for w in windows),
                    "hits": hits.get(sender, {})})
    out.sort(key=lambda r: (-max([w["sent"] for w in r["windows"]] or [0]), r["sender"]))
    return out


def parse_event(entry: dict) -> dict | None:
    """A limit or lock event from one journal entry (``journalctl -o json``), else None."""
    message = entry.get("MESSAGE")
    if not isinstance(message, str):
        return None
    kind = next((k for marker, k in MARKERS.items() if marker in message), None)
    match = REJECT.search(message) if kind else None
    if not match:
        return None
    stamp = int(entry.get("__REALTIME_TIMESTAMP", 0)) / 1e6
    return {
        "time": datetime.fromtimestamp(stamp, UTC).isoformat(),
        "timestamp": stamp,
        "kind": kind,
        "sender": match["sender"],
        "recipient": match["to"],
        "client": match["client"],
        "service": entry.get("SYSLOG_IDENTIFIER", ""),
        "reply": match["reply"],
    }


def read_journal(since_epoch: int, run=subprocess.run) -> list[dict]:
    """Journal entries of the submission services since ``since_epoch``."""
    argv = ["journalctl", "--no-pager", "-q", "-o", "json", f"--since=@{since_epoch}",
            "--output-fields=MESSAGE,SYSLOG_IDENTIFIER"]
    argv += [f"SYSLOG_IDENTIFIER={s}" for s in SERVICES]
    proc = run(argv, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"journalctl failed: {proc.stderr.strip()}")
    entries = []
    for line in proc.stdout.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def collect(config_text: str, database: str | None, now: int, since: int,
            senders: list[str], events: bool, max_events: int, journal=read_journal) -> dict:
    config = load_config(config_text)
    db = database or (config.get("sqlite_config") or {}).get("database") or DEFAULT_DATABASE
    windows = windows_of(config)
    if os.path.exists(db):
        conn = connect_ro(db)
        try:
            counts = read_counts(conn, now, windows, senders)
            hits = read_hits(conn)
        finally:
            conn.close()
    else:  # the daemon has not accepted any mail yet
        counts, hits = {}, {}
    records = evaluate(config, counts, hits)
    found = []
    if events:
        for entry in journal(now - since):
            event = parse_event(entry)
            if event and (not senders or event["sender"] in senders):
                found.append(event)
        found.sort(key=lambda e: e["timestamp"])
        found = found[-max_events:] if max_events > 0 else []
    return {"senders": records,
            "over_limit": [r["sender"] for r in records if r["over_limit"]],
            "events": found, "now": now}


def main():
    module = AnsibleModule(
        argument_spec={
            "since": {"type": "int", "default": 3600},
            "senders": {"type": "list", "elements": "str", "default": []},
            "events": {"type": "bool", "default": True},
            "max_events": {"type": "int", "default": 1000},
            "config": {"type": "path", "default": "/etc/policyd-rate-limit.yaml"},
            "database": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["since"] < 1:
        module.fail_json(msg="since must be a number of seconds >= 1")
    try:
        with open(p["config"], encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        module.fail_json(msg=f"cannot read {p['config']} (is the mail role applied?): {exc}")
    try:
        result = collect(text, p["database"], int(time.time()), p["since"], p["senders"],
                         p["events"], p["max_events"])
    except (sqlite3.Error, RuntimeError, ValueError) as exc:
        module.fail_json(msg=f"cannot read the sending counts: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
