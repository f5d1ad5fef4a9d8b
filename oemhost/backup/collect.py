"""Store what the nodes report about their backups; open or resolve their incidents.

The playbooks ``collect_backup_status.yml`` and ``backup_now.yml`` hand one file per node,
``backup--<node>.json``, to the control plane (``oemhost.jobs.results``)::

    {"node": "node1", "configured": true, "running": false,
     "status": {"result": "ok", "finished_at": "2026-11-24T03:12:41Z", ...}}

:func:`handle_results` (registered as the ``backup`` result handler) checks each file,
derives the node's state with :func:`evaluate` (a plain function), stores it and keeps the
monitor's incident of service ``backup`` in step: a failed, unknown or stale backup opens
(or adds to) the node's incident, a good one resolves it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oemhost.backup.config import BackupConfig
from oemhost.db.models.backup import BackupNodeStatus, BackupRun

log = logging.getLogger("oemhost.backup")

SERVICE = "backup"
MAX_FILE = 64 * 1024
NODE_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SNAPSHOT_RE = re.compile(r"^[0-9a-f]{8,64}$")
RESULTS = {"ok", "failed", "never", "unknown"}
PROBLEM_STATES = {"failed", "stale", "unknown"}


@dataclass(frozen=True)
class Verdict:
    state: str  # ok | failed | stale | never | unconfigured | unknown
    message: str  # one line for people (incident summary, panel)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not TIME_RE.match(value):
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _age(now: datetime, then: datetime) -> str:
    hours = (now - then).total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 2 else f"{hours * 60:.0f} min"


def evaluate(*, configured: bool, result: str, last_success_at: datetime | None,
             configured_since: datetime | None, error: str | None, now: datetime,
             stale_after: timedelta, node: str) -> Verdict:
    """The node's backup state from what it reported."""
    if not configured:
        return Verdict("unconfigured", f"{node}: no backup target configured")
    if result == "failed":
        return Verdict("failed", f"{node}: backup failed: {error or 'no reason given'}")
    if result == "unknown":
        return Verdict("unknown", f"{node}: backup status unreadable: {error or '?'}")
    if last_success_at is not None:
        if now - last_success_at > stale_after:
            return Verdict("stale", f"{node}: no successful backup for "
                                    f"{_age(now, last_success_at)} (last "
                                    f"{last_success_at:%Y-%m-%d %H:%M} UTC)")
        return Verdict("ok", f"{node}: backup ok ({_age(now, last_success_at)} ago)")
    if configured_since is not None and now - configured_since > stale_after:
        since = configured_since.strftime("%Y-%m-%d %H:%M")
        return Verdict("stale", f"{node}: no backup has run since {since} UTC "
                                "(is the timer running?)")
    return Verdict("never", f"{node}: no backup has run yet")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    return "".join(ch if ch.isprintable() else " " for ch in value)[:limit]


def parse_report(data: Any, node: str) -> dict:
    """A checked report of one node; ``ValueError`` for anything malformed."""
    if not isinstance(data, dict) or data.get("node") != node:
        raise ValueError("not a backup report of this node")
    status = data.get("status")
    if not isinstance(status, dict) or not isinstance(data.get("configured"), bool):
        raise ValueError("malformed backup report")
    result = status.get("result")
    snap = status.get("snapshot_id")
    last_snap = status.get("last_snapshot_id")
    duration = status.get("duration_s")
    return {
        "configured": data["configured"], "running": data.get("running") is True,
        "result": result if result in RESULTS else "unknown",
        "started_at": parse_time(status.get("started_at")),
        "finished_at": parse_time(status.get("finished_at")),
        "last_success_at": parse_time(status.get("last_success_at")),
        "snapshot_id": snap if isinstance(snap, str) and SNAPSHOT_RE.match(snap) else None,
        "last_snapshot_id": (last_snap if isinstance(last_snap, str)
                             and SNAPSHOT_RE.match(last_snap) else None),
        "size_bytes": _int(status.get("size_bytes")),
        "added_bytes": _int(status.get("added_bytes")),
        "files": _int(status.get("files")), "tenants": _int(status.get("tenants")),
        "databases": _int(status.get("databases")),
        "duration_s": (float(duration) if isinstance(duration, (int, float))
                       and not isinstance(duration, bool) and duration >= 0 else None),
        "error": _text(status.get("error"), 500),
        "repository": _text(status.get("repository"), 300),
    }


def record(session: Session, node: str, report: dict, *, now: datetime, cfg: BackupConfig,
           settings=None) -> BackupNodeStatus:
    """Store one node's report, record a newly finished run, update its incident."""
    row = session.get(BackupNodeStatus, node)
    if row is None:
        row = BackupNodeStatus(node=node, state="never", message="", configured=False,
                               result="never", collected_at=now)
        session.add(row)
    if report["configured"] and (row.configured_since is None or not row.configured):
        row.configured_since = now
    if not report["configured"]:
        row.configured_since = None
    for key, value in report.items():
        setattr(row, key, value)
    row.collected_at = now
    if report["finished_at"] is not None and report["result"] in ("ok", "failed"):
        seen = session.scalar(select(BackupRun.id).where(
            BackupRun.node == node, BackupRun.finished_at == report["finished_at"]))
        if seen is None:
            session.add(BackupRun(node=node, result=report["result"],
                                  started_at=report["started_at"],
                                  finished_at=report["finished_at"],
                                  snapshot_id=report["snapshot_id"],
                                  size_bytes=report["size_bytes"],
                                  added_bytes=report["added_bytes"],
                                  duration_s=report["duration_s"], error=report["error"]))
    reevaluate(session, row, now=now, cfg=cfg, settings=settings)
    return row


def reevaluate(session: Session, row: BackupNodeStatus, *, now: datetime, cfg: BackupConfig,
               settings=None) -> Verdict:
    """Derive the row's state again (time passes: a good backup becomes stale)."""
    verdict = evaluate(configured=row.configured, result=row.result,
                       last_success_at=row.last_success_at,
                       configured_since=row.configured_since, error=row.error, now=now,
                       stale_after=timedelta(hours=cfg.stale_after_hours), node=row.node)
    previous_state, previous_message = row.state, row.message
    row.state, row.message = verdict.state, verdict.message[:500]
    if cfg.incidents:
        from oemhost.monitor.external import (
            open_external_incident,
            resolve_external_incident,
        )

        if verdict.state in PROBLEM_STATES:
            news = (previous_state != verdict.state
                    or (verdict.state != "stale" and previous_message != row.message))
            if row.incident_id is None or news:
                row.incident_id = open_external_incident(
                    session, row.node, SERVICE, verdict.message, now=now,
                    state=verdict.state, snapshot_id=row.last_snapshot_id)
        else:
            resolve_external_incident(session, row.node, SERVICE, verdict.message,
                                      settings=settings, now=now)
            row.incident_id = None
    return verdict


def read_report_file(path: Path) -> tuple[str, Any]:
    """(node, parsed JSON) of ``backup--<node>.json``; ``ValueError`` when unusable."""
    node = path.name.removeprefix("backup--").removesuffix(".json")
    if not NODE_RE.match(node):
        raise ValueError(f"bad node name in {path.name!r}")
    if path.stat().st_size > MAX_FILE:
        raise ValueError(f"{path.name}: too large")
    return node, json.loads(path.read_text(encoding="utf-8"))


def handle_results(settings, run, files: list[Path]) -> int:
    """``oemhost.jobs.results`` handler ``backup``: store every node's report."""
    from oemhost.monitor.db import sessions

    cfg = BackupConfig.from_settings(settings)
    now = datetime.now(UTC)
    stored = 0
    factory = sessions(settings)
    with factory() as session, session.begin():
        for path in files:
            try:
                node, data = read_report_file(path)
                if node not in run.nodes:
                    raise ValueError(f"node {node} was not part of run {run.run_id}")
                report = parse_report(data, node)
            except (OSError, ValueError) as exc:
                log.warning("run %s: ignoring backup report %s: %s", run.run_id, path.name, exc)
                continue
            record(session, node, report, now=now, cfg=cfg, settings=settings)
            stored += 1
    return stored


def refresh(settings, now: datetime | None = None) -> int:
    """Re-derive every stored node's state (a node that stopped reporting goes stale)."""
    from oemhost.monitor.db import sessions

    cfg = BackupConfig.from_settings(settings)
    now = now or datetime.now(UTC)
    with sessions(settings)() as session, session.begin():
        rows = list(session.scalars(select(BackupNodeStatus)))
        for row in rows:
            reevaluate(session, row, now=now, cfg=cfg, settings=settings)
    return len(rows)
