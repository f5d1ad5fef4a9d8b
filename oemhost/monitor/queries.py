"""Read-only queries for the panels and the CLI: status board, incidents, reports sent.

Every function takes a SQLAlchemy session and returns plain dataclasses (no ORM objects
leak into templates). Scoping is the caller's: a reseller panel passes ``nodes`` (the nodes
the reseller owns or has tenants on, :func:`oemhost.monitor.inventory.nodes_of_reseller`)
and ``audience="reseller:<id>"`` so that it sees only its nodes and its own mails.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oemhost.db.models.monitor import (
    MonitorCheckState,
    MonitorIncident,
    MonitorNotification,
    MonitorProbeResult,
)
from oemhost.errors import NotFoundError
from oemhost.monitor.checks import PROTOCOLS, Status

_SEVERITY = {Status.OK: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.CRITICAL: 3}


@dataclass(frozen=True)
class CheckStatus:
    protocol: str
    status: Status
    state_type: str
    attempt: int
    flapping: bool
    message: str
    failure: str | None
    latency_ms: float | None
    cert_days_left: float | None
    last_checked_at: datetime
    since: datetime | None


@dataclass(frozen=True)
class NodeStatus:
    node: str
    status: Status                     # the worst HARD status of its checks
    up: bool | None                    # ping answered (None: not probed yet)
    checks: list[CheckStatus]
    open_incidents: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class IncidentSummary:
    id: int
    node: str
    service: str
    status: str
    started_at: datetime
    detected_at: datetime
    recovered_at: datetime | None
    failing: list[str]
    affected: list[str]
    summary: str
    level: int
    escalated: bool
    flapping: bool
    notice_sent_at: datetime | None
    report_due_at: datetime | None
    report_sent_at: datetime | None


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    message: str
    data: dict[str, Any]


@dataclass(frozen=True)
class NotificationSummary:
    id: int
    incident_id: int | None
    kind: str
    audience: str
    language: str
    recipients: list[str]
    subject: str
    status: str
    attempts: int
    error: str | None
    sent_at: datetime | None
    created_at: datetime
    body: str = ""


@dataclass(frozen=True)
class IncidentDetail:
    incident: IncidentSummary
    timeline: list[TimelineEntry]
    notifications: list[NotificationSummary]


def _summary(i: MonitorIncident) -> IncidentSummary:
    return IncidentSummary(
        id=i.id, node=i.node, service=i.service, status=i.status, started_at=i.started_at,
        detected_at=i.detected_at, recovered_at=i.recovered_at, failing=list(i.failing),
        affected=list(i.affected), summary=i.summary, level=i.level, escalated=i.escalated,
        flapping=i.flapping, notice_sent_at=i.notice_sent_at, report_due_at=i.report_due_at,
        report_sent_at=i.report_sent_at)


def _notification(n: MonitorNotification, with_body: bool) -> NotificationSummary:
    return NotificationSummary(
        id=n.id, incident_id=n.incident_id, kind=n.kind, audience=n.audience,
        language=n.language, recipients=list(n.recipients), subject=n.subject,
        status=n.status, attempts=n.attempts, error=n.error, sent_at=n.sent_at,
        created_at=n.created_at, body=n.body if with_body else "")


def status_board(session: Session, nodes: Iterable[str] | None = None) -> list[NodeStatus]:
    """One entry per node that has been probed, checks in protocol order."""
    q = select(MonitorCheckState)
    inc = select(MonitorIncident.node, MonitorIncident.id).where(
        MonitorIncident.status == "open")
    if nodes is not None:
        nodes = list(nodes)
        q = q.where(MonitorCheckState.node.in_(nodes))
        inc = inc.where(MonitorIncident.node.in_(nodes))
    by_node: dict[str, list[CheckStatus]] = {}
    for r in session.scalars(q):
        by_node.setdefault(r.node, []).append(CheckStatus(
            protocol=r.protocol, status=Status(r.status), state_type=r.state_type,
            attempt=r.attempt, flapping=r.flapping, message=r.message, failure=r.failure,
            latency_ms=r.latency_ms, cert_days_left=r.cert_days_left,
            last_checked_at=r.last_checked_at, since=r.since))
    incidents: dict[str, list[int]] = {}
    for node, iid in session.execute(inc):
        incidents.setdefault(node, []).append(iid)
    order = {p: i for i, p in enumerate(PROTOCOLS)}
    out = []
    for node in sorted(by_node):
        checks = sorted(by_node[node], key=lambda c: order.get(c.protocol, 99))
        hard = [Status(c.status) for c in checks if c.state_type == "hard"] or [Status.OK]
        ping = next((c for c in checks if c.protocol == "ping"), None)
        out.append(NodeStatus(
            node=node, status=max(hard, key=_SEVERITY.__getitem__),
            up=None if ping is None else ping.status is not Status.CRITICAL,
            checks=checks, open_incidents=sorted(incidents.get(node, []))))
    return out


def list_incidents(session: Session, *, status: str | None = None,
                   nodes: Iterable[str] | None = None, limit: int = 50,
                   offset: int = 0) -> list[IncidentSummary]:
    """Newest first. ``status``: "open" | "recovered" | None (all)."""
    q = select(MonitorIncident).order_by(MonitorIncident.id.desc())
    if status:
        q = q.where(MonitorIncident.status == status)
    if nodes is not None:
        q = q.where(MonitorIncident.node.in_(list(nodes)))
    q = q.limit(max(1, min(limit, 500))).offset(max(0, offset))
    return [_summary(i) for i in session.scalars(q)]


def count_incidents(session: Session, *, status: str | None = None,
                    nodes: Iterable[str] | None = None) -> int:
    q = select(func.count(MonitorIncident.id))
    if status:
        q = q.where(MonitorIncident.status == status)
    if nodes is not None:
        q = q.where(MonitorIncident.node.in_(list(nodes)))
    return int(session.scalar(q) or 0)


def get_incident(session: Session, incident_id: int, *, nodes: Iterable[str] | None = None,
                 audience: str | None = None) -> IncidentDetail:
    """The incident with its timeline and the mails sent for it (only ``audience``'s when
    given). Outside ``nodes`` it does not exist (NotFoundError), like a missing id."""
    incident = session.get(MonitorIncident, incident_id)
    if incident is None or (nodes is not None and incident.node not in set(nodes)):
        raise NotFoundError(f"incident {incident_id} not found")
    notes = [n for n in incident.notifications if audience is None or n.audience == audience]
    return IncidentDetail(
        incident=_summary(incident),
        timeline=[TimelineEntry(e.at, e.kind, e.message, dict(e.data or {}))
                  for e in incident.events],
        notifications=[_notification(n, with_body=True) for n in notes])


def list_notifications(session: Session, *, kind: str | None = None,
                       audience: str | None = None, nodes: Iterable[str] | None = None,
                       limit: int = 50, offset: int = 0) -> list[NotificationSummary]:
    """Mails sent (``kind="report"`` for the "reports sent" page), newest first."""
    q = select(MonitorNotification).order_by(MonitorNotification.id.desc())
    if kind:
        q = q.where(MonitorNotification.kind == kind)
    if audience:
        q = q.where(MonitorNotification.audience == audience)
    if nodes is not None:
        q = q.join(MonitorIncident).where(MonitorIncident.node.in_(list(nodes)))
    q = q.limit(max(1, min(limit, 500))).offset(max(0, offset))
    return [_notification(n, with_body=False) for n in session.scalars(q)]


@dataclass(frozen=True)
class ProbeRow:
    checked_at: datetime
    status: Status
    state_type: str
    attempt: int
    latency_ms: float | None
    message: str


def probe_history(session: Session, node: str, protocol: str, *,
                  since: datetime | None = None, limit: int = 200) -> list[ProbeRow]:
    q = (select(MonitorProbeResult)
         .where(MonitorProbeResult.node == node, MonitorProbeResult.protocol == protocol)
         .order_by(MonitorProbeResult.checked_at.desc()).limit(max(1, min(limit, 5000))))
    if since is not None:
        q = q.where(MonitorProbeResult.checked_at >= since)
    return [ProbeRow(r.checked_at, Status(r.status), r.state_type, r.attempt, r.latency_ms,
                     r.message) for r in session.scalars(q)]
