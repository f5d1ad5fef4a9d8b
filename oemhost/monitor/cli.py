"""``oemhost monitor ...``: probe by hand, run a sweep, read incidents, test the mail path.

``probe`` and ``check`` exit with the worst Nagios code of their results (0 ok, 1 warning,
2 critical, 3 unknown), so they can be used from scripts like a plugin.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from oemhost.errors import OemhostError, ValidationError

_PARAM = re.compile(r"^([a-z_]+)=(.*)$")


def register(subparsers) -> None:
    p = subparsers.add_parser("monitor", help="probes, incidents and notices")
    sub = p.add_subparsers(dest="monitor_cmd", metavar="SUBCOMMAND", required=True)

    s = sub.add_parser("probe", help="probe a node of the inventory now (nothing is stored)")
    s.add_argument("node")
    s.add_argument("-p", "--protocol", action="append", default=[],
                   help="only this protocol (repeatable)")
    s.add_argument("--json", action="store_true", help="JSON lines")
    s.set_defaults(func=cmd_probe)

    s = sub.add_parser("check", help="probe any address with one protocol (nothing is stored)")
    s.add_argument("address")
    s.add_argument("-p", "--protocol", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--timeout", type=float, default=10.0)
    s.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="probe parameter (path, host, sslmode, ...)")
    s.add_argument("--user", help="login for postgresql/mysql (password from "
                                  "OEMHOST_MONITOR_DB_PASSWORD)")
    s.add_argument("--database", default="")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("sweep", help="run one sweep now and store the results")
    s.add_argument("--node", action="append", help="only this node (repeatable)")
    s.add_argument("--force", action="store_true", help="probe every check, due or not")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("followup", help="run the follow-up (remediation, notices, reports)")
    s.set_defaults(func=cmd_followup)

    s = sub.add_parser("status", help="status board: every node and check")
    s.add_argument("--node", action="append")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("incidents", help="list incidents, newest first")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--open", action="store_const", const="open", dest="status")
    g.add_argument("--recovered", action="store_const", const="recovered", dest="status")
    s.add_argument("--node", action="append")
    s.add_argument("--limit", type=int, default=50)
    s.set_defaults(func=cmd_incidents)

    s = sub.add_parser("incident", help="one incident with its timeline and mails")
    s.add_argument("id", type=int)
    s.set_defaults(func=cmd_incident)

    s = sub.add_parser("report-due", help="when a report is due for a recovery at WHEN")
    s.add_argument("when", nargs="?", help="ISO date-time with offset (default: now)")
    s.set_defaults(func=cmd_report_due)

    s = sub.add_parser("test-mail", help="send a test mail through [smtp]")
    s.add_argument("address")
    s.add_argument("--lang", choices=("ja", "en"), default="ja")
    s.set_defaults(func=cmd_test_mail)


def _print_results(results, as_json: bool) -> int:
    worst = 0
    for r in results:
        worst = max(worst, r.status.code)
        if as_json:
            print(json.dumps({"node": r.node, "protocol": r.protocol, "status": r.status.value,
                              "latency": r.latency, "message": r.message,
                              "failure": r.failure.value if r.failure else None,
                              "cert_days_left": r.cert_days_left,
                              "checked_at": r.checked_at.isoformat()}, ensure_ascii=False))
        else:
            print(r.line())
    return worst


def cmd_probe(args, settings) -> int:
    from oemhost.monitor.config import load_monitor_config
    from oemhost.monitor.inventory import build_checks, load_nodes
    from oemhost.monitor.probes.pool import run_in_loop

    cfg = load_monitor_config(settings)
    nodes = [n for n in load_nodes(settings.inventory_dir) if n.name == args.node]
    if not nodes:
        raise OemhostError(f"node {args.node!r} not found in {settings.inventory_dir}")
    checks = build_checks(nodes, cfg, settings)
    if args.protocol:
        unknown = set(args.protocol) - {c.protocol for c in checks}
        if unknown:
            raise OemhostError(f"node {args.node} has no check {', '.join(sorted(unknown))}")
        checks = [c for c in checks if c.protocol in args.protocol]
    return _print_results(run_in_loop(checks, cfg.concurrency), args.json)


def cmd_check(args, settings) -> int:
    import os

    from oemhost.monitor.checks import DEFAULT_PORTS, PROTOCOLS, Check, Credentials
    from oemhost.monitor.config import PARAM_KEYS, load_monitor_config
    from oemhost.monitor.probes.pool import run_in_loop

    if args.protocol not in PROTOCOLS:
        raise ValidationError({"protocol": f"one of {', '.join(PROTOCOLS)}"})
    params = dict(load_monitor_config(settings).protocols[args.protocol].params)
    for item in args.param:
        m = _PARAM.match(item)
        if not m or m.group(1) not in PARAM_KEYS:
            raise ValidationError({"param": f"{item!r}: KEY=VALUE with KEY one of "
                                            f"{', '.join(sorted(PARAM_KEYS))}"})
        value: object = m.group(2)
        if value in ("true", "false"):
            value = value == "true"
        params[m.group(1)] = value
    cred = None
    if args.user:
        cred = Credentials(args.user, os.environ.get("OEMHOST_MONITOR_DB_PASSWORD", ""),
                           args.database)
    check = Check("-", args.protocol, args.address,
                  args.port or DEFAULT_PORTS.get(args.protocol, 0), timeout=args.timeout,
                  params=params, credentials=cred)
    return _print_results(run_in_loop([check]), args.json)


def _monitor(settings):
    from oemhost.monitor.engine import Monitor

    return Monitor(settings)


def cmd_sweep(args, settings) -> int:
    print(_monitor(settings).sweep(only=args.node, force=args.force).line())
    return 0


def cmd_followup(args, settings) -> int:
    print(_monitor(settings).followup().line())
    return 0


def _fmt(t: datetime | None) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def cmd_status(args, settings) -> int:
    from oemhost.monitor.db import sessions
    from oemhost.monitor.queries import status_board

    with sessions(settings)() as session:
        board = status_board(session, args.node)
    if not board:
        print("no probe results yet (run: oemhost monitor sweep)")
    for node in board:
        inc = f"  incidents {', '.join(f'#{i}' for i in node.open_incidents)}" \
            if node.open_incidents else ""
        print(f"{node.node}: {node.status.value.upper()}{inc}")
        for c in node.checks:
            flags = f" {c.state_type.upper()} {c.attempt}" + (" FLAPPING" if c.flapping else "")
            lat = f" {c.latency_ms:.1f}ms" if c.latency_ms is not None else ""
            print(f"  {c.protocol:<10} {c.status.value:<8}{flags}{lat}  {c.message}")
    return 0


def cmd_incidents(args, settings) -> int:
    from oemhost.monitor.db import sessions
    from oemhost.monitor.queries import list_incidents

    with sessions(settings)() as session:
        rows = list_incidents(session, status=args.status, nodes=args.node, limit=args.limit)
    for i in rows:
        flags = "".join([f" L{i.level}" if i.level else "", " ESCALATED" if i.escalated else "",
                         " notice" if i.notice_sent_at else "",
                         " report" if i.report_sent_at else ""])
        print(f"#{i.id} {i.status:<9} {i.node} {i.service:<10} {_fmt(i.started_at)} -> "
              f"{_fmt(i.recovered_at)}{flags}  {', '.join(i.affected)}")
    return 0


def cmd_incident(args, settings) -> int:
    from oemhost.monitor.db import sessions
    from oemhost.monitor.queries import get_incident

    with sessions(settings)() as session:
        d = get_incident(session, args.id)
    i = d.incident
    print(f"incident #{i.id}: {i.node} {i.service} {i.status}")
    print(f"  started {_fmt(i.started_at)}, confirmed {_fmt(i.detected_at)}, "
          f"recovered {_fmt(i.recovered_at)}")
    print(f"  affected {', '.join(i.affected)}; level {i.level}"
          f"{'; escalated' if i.escalated else ''}")
    print(f"  notice {_fmt(i.notice_sent_at)}; report due {_fmt(i.report_due_at)}, "
          f"sent {_fmt(i.report_sent_at)}")
    print("timeline:")
    for e in d.timeline:
        print(f"  {_fmt(e.at)}  {e.kind:<18} {e.message}")
    if d.notifications:
        print("mails:")
        for n in d.notifications:
            print(f"  {n.kind:<7} {n.audience:<20} {n.status:<6} {_fmt(n.sent_at)} "
                  f"{', '.join(n.recipients)}  {n.subject}")
    return 0


def cmd_report_due(args, settings) -> int:
    from oemhost.monitor.config import load_monitor_config

    cal = load_monitor_config(settings).business
    if args.when:
        try:
            when = datetime.fromisoformat(args.when)
        except ValueError:
            raise ValidationError({"when": "not an ISO date-time"}) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=cal.tz)
    else:
        when = datetime.now(UTC)
    day = cal.report_day(when)
    print(f"recovered {cal.local(when):%Y-%m-%d %H:%M %Z} -> report day {day} "
          f"(send {cal.report_send_at(when):%H:%M}, due {cal.report_due(when):%H:%M %Z})")
    return 0


def cmd_test_mail(args, settings) -> int:
    from oemhost.notify import Mailer

    mailer = Mailer.from_settings(settings)
    subject = "oemhost: テストメール" if args.lang == "ja" else "oemhost: test mail"
    body = ("oemhost 監視システムからのテストメールです。\n" if args.lang == "ja"
            else "This is a test mail from the oemhost monitor.\n")
    sent = mailer.send(mailer.compose([args.address], subject, body))
    print(f"sent {sent.message_id}" + (f" (refused: {', '.join(sent.refused)})"
                                       if sent.refused else ""))
    return 0

