"""Storing what the probes saw: every result (bounded retention) and each check's state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from oemhost.db.models.monitor import MonitorCheckState, MonitorProbeResult
from oemhost.monitor.checks import CheckResult, Status
from oemhost.monitor.state import CheckState, StateType, Transition, apply

Key = tuple[str, str]


def to_state(row: MonitorCheckState | None) -> CheckState:
    if row is None:
        return CheckState()
    return CheckState(status=Status(row.status), state_type=StateType(row.state_type),
                      attempt=row.attempt, hard_status=Status(row.hard_status),
                      history=row.history, flapping=row.flapping, flap_pct=row.flap_pct,
                      since=row.since, last_ok_at=row.last_ok_at)


def load_states(session: Session, nodes: Iterable[str] | None = None
                ) -> dict[Key, MonitorCheckState]:
    q = select(MonitorCheckState)
    if nodes is not None:
        q = q.where(MonitorCheckState.node.in_(list(nodes)))
    return {(r.node, r.protocol): r for r in session.scalars(q)}


def observe(session: Session, rows: dict[Key, MonitorCheckState],
            results: Sequence[CheckResult], attempts: dict[Key, int], *,
            flap_low: float, flap_high: float
            ) -> list[tuple[CheckResult, MonitorCheckState, Transition]]:
    """Apply results to the states (creating rows as needed) and store every result."""
    out = []
    stored = []
    for result in results:
        row = rows.get(result.key)
        old = to_state(row)
        new, tr = apply(old, result, max_attempts=attempts.get(result.key, 3),
                        flap_low=flap_low, flap_high=flap_high)
        if row is None:
            row = MonitorCheckState(node=result.node, protocol=result.protocol,
                                    last_change_at=result.checked_at)
            session.add(row)
            rows[result.key] = row
        if row.status != new.status.value or row.state_type != new.state_type.value:
            row.last_change_at = result.checked_at
        row.status, row.state_type = new.status.value, new.state_type.value
        row.attempt, row.hard_status = new.attempt, new.hard_status.value
        row.history, row.flapping, row.flap_pct = new.history, new.flapping, new.flap_pct
        row.since, row.last_ok_at = new.since, new.last_ok_at
        row.last_checked_at = result.checked_at
        row.message = result.message[:500]
        row.failure = result.failure.value if result.failure else None
        row.latency_ms = result.latency * 1000 if result.latency is not None else None
        row.cert_days_left = result.cert_days_left
        stored.append({
            "node": result.node, "protocol": result.protocol, "checked_at": result.checked_at,
            "status": result.status.value, "state_type": new.state_type.value,
            "attempt": new.attempt, "latency_ms": row.latency_ms,
            "failure": row.failure, "cert_days_left": result.cert_days_left,
            "message": result.message[:500]})
        out.append((result, row, tr))
    if stored:
        session.execute(insert(MonitorProbeResult), stored)
    return out


def prune_results(session: Session, now: datetime, retention_days: float) -> int:
    cutoff = now - timedelta(days=retention_days)
    res = session.execute(delete(MonitorProbeResult)
                          .where(MonitorProbeResult.checked_at < cutoff))
    return res.rowcount or 0


def is_hard_down(row: MonitorCheckState | None) -> bool:
    return (row is not None and row.state_type == StateType.HARD.value
            and row.status == Status.CRITICAL.value)
