"""The level-2 rate limit: one reboot per node per window, and a cap per incident.

Kept in the database (``monitor_infra_actions``) so that a restarted worker still knows
about the reboot it asked for five minutes ago: a network cut that no reboot can fix must
end in an incident with notices, never in a reboot storm.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from oemhost.db.models.monitor import MonitorInfraAction


def reboot_allowed(session: Session, node: str, now: datetime, *, window: float,
                   incident_reboots: int, per_incident: int) -> tuple[bool, str]:
    """(allowed, reason-if-not)."""
    if incident_reboots >= per_incident:
        return False, (f"this incident already had {incident_reboots} reboot(s) "
                       f"(limit {per_incident})")
    since = now - timedelta(seconds=window)
    last = session.scalar(
        select(MonitorInfraAction)
        .where(MonitorInfraAction.node == node, MonitorInfraAction.action == "reboot",
               MonitorInfraAction.status.in_(("done", "submitted")),
               MonitorInfraAction.requested_at > since)
        .order_by(MonitorInfraAction.requested_at.desc()).limit(1))
    if last is not None:
        return False, (f"node rebooted at {last.requested_at:%Y-%m-%d %H:%M} UTC, within the "
                       f"{window / 60:g}-minute window")
    return True, ""
