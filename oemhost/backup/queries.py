"""Read side for the provider panel: each node's backup status and its recent runs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from oemhost.db.models.backup import BackupNodeStatus, BackupRun


def node_statuses(session: Session, nodes: list[str] | None = None) -> dict[str, dict]:
    """node -> its stored status as a plain dict (nodes never reported are absent)."""
    q = select(BackupNodeStatus)
    if nodes is not None:
        q = q.where(BackupNodeStatus.node.in_(nodes))
    out = {}
    for row in session.scalars(q):
        out[row.node] = {
            "node": row.node, "state": row.state, "message": row.message,
            "configured": row.configured, "running": row.running, "result": row.result,
            "started_at": row.started_at, "finished_at": row.finished_at,
            "last_success_at": row.last_success_at, "snapshot_id": row.snapshot_id,
            "last_snapshot_id": row.last_snapshot_id, "size_bytes": row.size_bytes,
            "added_bytes": row.added_bytes, "files": row.files, "tenants": row.tenants,
            "databases": row.databases, "duration_s": row.duration_s, "error": row.error,
            "repository": row.repository, "collected_at": row.collected_at,
            "incident_id": row.incident_id,
        }
    return out


def recent_runs(session: Session, node: str, limit: int = 14) -> list[BackupRun]:
    return list(session.scalars(select(BackupRun).where(BackupRun.node == node)
                                .order_by(BackupRun.finished_at.desc()).limit(limit)))
