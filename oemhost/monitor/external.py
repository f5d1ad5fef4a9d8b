"""Incidents opened by other parts of oemhost (backups, the mass-mail watch...).

The probes own the incidents of the service groups they check (``host``, ``web``,
``mail``, ``ftp``, ``mariadb``, ``postgresql``). Any other part that finds a failure on a
node records it here under a service name of its own (``backup``, ``mass_mail``...): the
incident gets the same timeline, the same notice after ``notice_after`` seconds (once per
audience) and the same failure report by the next business day as a probed outage. The
sweep never closes such an incident and never restarts or reboots anything for it: its
owner resolves it.

>>> incident_id = open_external_incident(session, "node1", "backup", "nightly backup failed")
>>> resolve_external_incident(session, "node1", "backup", "backup succeeded",
...                           settings=settings)

Both take the caller's session and flush (the caller commits). Opening while an incident
of the same node + service is open adds a ``check_failed`` line to its timeline (one
incident per outage, like the probes); resolving with none open returns None.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from oemhost.config import Settings
from oemhost.db.models.monitor import MonitorIncident
from oemhost.errors import ValidationError
from oemhost.monitor.checks import SERVICE_GROUPS
from oemhost.monitor.config import MonitorConfig, load_monitor_config
from oemhost.monitor.incidents import add_event, open_incidents, open_or_reopen, recover

_SERVICE = re.compile(r"^[a-z][a-z0-9_]{1,15}$")
_NODE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,63}$")


def is_external(service: str) -> bool:
    """True for incidents that belong to another component than the probes."""
    return service not in SERVICE_GROUPS


def _check(node: str, service: str, summary: str) -> None:
    errors = {}
    if not isinstance(node, str) or not _NODE.match(node):
        errors["node"] = "must be a node name"
    if not isinstance(service, str) or not _SERVICE.match(service):
        errors["service"] = "must match [a-z][a-z0-9_]{1,15}"
    elif not is_external(service):
        errors["service"] = f"{service!r} belongs to the probes; use a name of your own"
    if not isinstance(summary, str) or not summary.strip():
        errors["summary"] = "required"
    if errors:
        raise ValidationError(errors, subject="external incident")


def open_external_incident(session: Session, node: str, service: str, summary: str, *,
                           now: datetime | None = None, **data) -> int:
    """Open (or add to) the incident of ``node`` + ``service``; its id.

    ``summary`` is one line for people (it goes in the notice mails as data, never as a
    template); ``data`` (JSON values) is kept on the timeline event."""
    _check(node, service, summary)
    now = now or datetime.now(UTC)
    summary = " ".join(summary.split())[:500]
    incident: MonitorIncident | None = open_incidents(session, [node]).get((node, service))
    if incident is None:
        incident = open_or_reopen(session, node, service, started_at=now, now=now,
                                  failing=[service], summary=summary)
        if data:
            incident.events[-1].data = {**(incident.events[-1].data or {}), **data}
    else:
        add_event(session, incident, "check_failed", summary, now, protocol=service, **data)
        incident.summary = summary
    session.flush()
    return incident.id


def resolve_external_incident(session: Session, node: str, service: str,
                              summary: str = "resolved", *, settings: Settings | None = None,
                              now: datetime | None = None) -> int | None:
    """Close the open incident of ``node`` + ``service``; its id, or None when none was
    open. Its failure report is scheduled by the business calendar of ``settings``
    (``[monitor]``; the defaults without it) like any other."""
    _check(node, service, summary)
    now = now or datetime.now(UTC)
    incident = open_incidents(session, [node]).get((node, service))
    if incident is None:
        return None
    cfg = load_monitor_config(settings) if settings is not None else MonitorConfig()
    add_event(session, incident, "check_recovered", " ".join(summary.split())[:500], now,
              protocol=service)
    recover(session, incident, now, calendar=cfg.business,
            report_send=cfg.report_send, report_all=cfg.report_all)
    session.flush()
    return incident.id
