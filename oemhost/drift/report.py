"""Storing drift reports (results hand-off ``drift``) and reading them for the panel."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select

from oemhost.db import make_engine, session_factory, session_scope
from oemhost.db.models.drift import DriftReport

log = logging.getLogger("oemhost.drift")

MAX_FILE_BYTES = 32 * 1024 * 1024
PLAYBOOK = "site.yml"


def _task(t: dict[str, Any]) -> dict[str, Any]:
    hidden = bool(t.get("hidden"))
    diff = t.get("diff")
    return {"play": str(t.get("play", ""))[:200], "role": str(t.get("role", ""))[:100],
            "task": str(t.get("task", ""))[:300], "action": str(t.get("action", ""))[:100],
            "hidden": hidden, "diff": None if hidden or not diff else str(diff)}


def build_report(node: str, data: dict[str, Any] | None, run_id: int | None,
                 run_status: str, at: datetime) -> DriftReport:
    """A report from the callback's file (None: the run ended without one)."""
    if data is None:
        return DriftReport(node=node, checked_at=at, run_id=run_id, status="failed",
                           changed=0, failed=0, tasks=[],
                           error=f"the check run ended ({run_status}) without a report")
    tasks = [_task(t) for t in data.get("tasks") or [] if isinstance(t, dict)]
    failed = int(data.get("failed") or 0)
    errors = [str(e)[:600] for e in data.get("errors") or []]
    if data.get("unreachable") or failed:
        status = "failed"
    else:
        status = "drift" if tasks else "clean"
    return DriftReport(node=node, checked_at=at, run_id=run_id, status=status,
                       changed=int(data.get("changed") or len(tasks)), failed=failed,
                       tasks=tasks, error="\n".join(errors) or None)


def handle_results(settings, run, files: list[Path]) -> None:
    """One report per node of the run (also when its file is missing: a failed check)."""
    by_node = {p.name.removeprefix("drift--").removesuffix(".json"): p for p in files}
    engine = make_engine(settings.database_url)
    try:
        factory = session_factory(engine)
        now = datetime.now(UTC)
        for node in run.nodes:
            data = None
            path = by_node.get(node)
            if path is not None and path.stat().st_size <= MAX_FILE_BYTES:
                try:
                    data = json.loads(path.read_text())
                except ValueError as exc:
                    log.warning("run %s: drift report of %s unusable: %s", run.run_id, node,
                                exc)
            with session_scope(factory) as session:
                session.add(build_report(node, data, run.run_id, run.status, now))
    finally:
        engine.dispose()


def latest_reports(session) -> dict[str, DriftReport]:
    """The newest report of every node that has one."""
    newest = (select(DriftReport.node, func.max(DriftReport.id).label("id"))
              .group_by(DriftReport.node).subquery())
    rows = session.scalars(select(DriftReport).join(newest, DriftReport.id == newest.c.id))
    return {r.node: r for r in rows}


def node_reports(session, node: str, limit: int = 20) -> list[DriftReport]:
    return list(session.scalars(select(DriftReport).where(DriftReport.node == node)
                                .order_by(DriftReport.id.desc()).limit(limit)))


def converge(session, node: str, *, requested_by: str, reason: str = "clear drift",
             tags=(), settings=None):
    """Submit a converge of ``node`` (all of ``site.yml``, or only ``tags``); the caller
    commits; returns the job."""
    from oemhost import jobs

    return jobs.submit(session, kind="provision", playbook=PLAYBOOK, nodes=[node],
                       tags=tags, requested_by=requested_by, reason=reason,
                       settings=settings)


def prune(session, keep_per_node: int = 50) -> int:
    """Keep the newest ``keep_per_node`` reports of each node."""
    deleted = 0
    for node in session.scalars(select(DriftReport.node).distinct()):
        ids = session.scalars(select(DriftReport.id).where(DriftReport.node == node)
                              .order_by(DriftReport.id.desc()).offset(keep_per_node)).all()
        if ids:
            deleted += session.execute(delete(DriftReport).where(
                DriftReport.id.in_(ids))).rowcount or 0
    return deleted
