"""Incidents: one per node + service, opened at the first confirmed (HARD) failure.

``service`` is ``host`` for the node itself (no ping) or a service group of the node record
(``web``, ``mail``, ``ftp``, ``mariadb``, ``postgresql``). While the node is down, its
failing services belong to the host incident: a dead node is ONE incident, not twelve. The
host incident stays the node's incident until the node and every service it listed answer
again.

The timeline is a list of events with a fixed ``kind`` vocabulary (:data:`EVENT_KINDS`);
the mail templates render each kind in the reader's language.

An incident that recovered less than ``REOPEN_WITHIN`` ago and whose report has not gone
out is *reopened* when the same service fails again, so an intermittent failure is one
incident with one restart budget, one notice and one report.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oemhost.db.models.monitor import MonitorIncident, MonitorIncidentEvent
from oemhost.monitor.business import BusinessCalendar

EVENT_KINDS = frozenset({
    "detected", "reopened", "check_failed", "check_recovered", "flapping_start",
    "flapping_stop", "not_restartable", "restart_requested", "restart_result",
    "restart_skipped", "ssh_ok", "ssh_failed", "reboot_requested", "reboot_result",
    "reboot_skipped", "escalated", "remediation_error", "notice_sent", "notice_failed",
    "recovered", "report_sent", "report_failed", "sender_locked",
})
REOPEN_WITHIN = timedelta(minutes=30)


def add_event(session: Session, incident: MonitorIncident, kind: str, message: str,
              at: datetime, **data: Any) -> MonitorIncidentEvent:
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown incident event kind {kind!r}")
    event = MonitorIncidentEvent(kind=kind, message=message, at=at, data=data)
    incident.events.append(event)
    incident.updated_at = at
    session.add(event)
    return event


def open_incidents(session: Session, nodes: Iterable[str] | None = None
                   ) -> dict[tuple[str, str], MonitorIncident]:
    q = select(MonitorIncident).where(MonitorIncident.status == "open")
    if nodes is not None:
        q = q.where(MonitorIncident.node.in_(list(nodes)))
    return {(i.node, i.service): i for i in session.scalars(q)}


def open_or_reopen(session: Session, node: str, service: str, *, started_at: datetime,
                   now: datetime, failing: list[str], summary: str) -> MonitorIncident:
    """A new open incident, or the recently recovered one of the same node + service."""
    recent = session.scalar(
        select(MonitorIncident)
        .where(MonitorIncident.node == node, MonitorIncident.service == service,
               MonitorIncident.status == "recovered",
               MonitorIncident.recovered_at >= now - REOPEN_WITHIN,
               MonitorIncident.report_sent_at.is_(None))
        .order_by(MonitorIncident.id.desc()).limit(1))
    if recent is not None:
        recent.status = "open"
        recent.recovered_at = None
        recent.report_due_at = recent.report_send_at = None
        recent.failing = sorted(failing)
        recent.affected = sorted(set(recent.affected) | set(failing))
        recent.summary = summary[:500]
        add_event(session, recent, "reopened", f"failed again: {', '.join(failing)}", now,
                  protocols=sorted(failing))
        return recent
    incident = MonitorIncident(
        node=node, service=service, status="open", started_at=started_at, detected_at=now,
        failing=sorted(failing), affected=sorted(failing), summary=summary[:500], level=0,
        flapping=False, escalated=False, remediation={}, updated_at=now)
    session.add(incident)
    add_event(session, incident, "detected",
              f"{node} {service}: {', '.join(failing)} down: {summary}", now,
              protocols=sorted(failing))
    session.flush()
    return incident


def set_failing(session: Session, incident: MonitorIncident, failing: Iterable[str],
                messages: dict[str, str], now: datetime) -> None:
    """Record which protocols are down now; an event for each one that changed."""
    new = sorted(set(failing))
    old = set(incident.failing)
    for proto in sorted(set(new) - old):
        add_event(session, incident, "check_failed", f"{proto}: {messages.get(proto, '')}",
                  now, protocol=proto)
    for proto in sorted(old - set(new)):
        add_event(session, incident, "check_recovered", f"{proto} answers again", now,
                  protocol=proto)
    if new != sorted(old):
        incident.failing = new
        incident.affected = sorted(set(incident.affected) | set(new))
    down = [messages[p] for p in new if messages.get(p)]
    if down:
        incident.summary = "; ".join(f"{p}: {messages[p]}" for p in new if p in messages)[:500]


def recover(session: Session, incident: MonitorIncident, now: datetime, *,
            calendar: BusinessCalendar, report_send: str, report_all: bool) -> None:
    """Close the incident; schedule its failure report by the business calendar."""
    incident.status = "recovered"
    incident.recovered_at = now
    incident.failing = []
    duration = (now - incident.started_at).total_seconds()
    add_event(session, incident, "recovered",
              f"all checks answer again after {duration / 60:.0f} min", now,
              duration_s=duration)
    if incident.notice_sent_at is not None or report_all:
        incident.report_due_at = calendar.report_due(now)
        incident.report_send_at = (now if report_send == "immediately"
                                   else calendar.report_send_at(now))
