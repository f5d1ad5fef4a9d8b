"""The three read functions the panels' seam calls (``webui/provider/monitoring.py``):

- ``list_incidents(session, *, reseller=None, node=None, open_only=False, limit=100)``
- ``list_notices(session, *, reseller=None, limit=100)``
- ``node_status(session)``

They answer in the panels' vocabulary (``opened_at``, ``resolved_at``, status ``open`` /
``resolved``) on top of :mod:`oemhost.monitor.queries`, which has the fuller API (timeline,
status board, probe history). A reseller sees the incidents of the nodes it owns or has
tenants on, and only the mails sent to its own contacts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from oemhost.monitor import queries
from oemhost.monitor.checks import Status
from oemhost.monitor.inventory import _records, nodes_of_reseller


@dataclass(frozen=True)
class PanelIncident:
    id: int
    node: str
    service: str
    status: str                       # open | resolved
    opened_at: datetime
    resolved_at: datetime | None
    summary: str
    level: int
    failing: list[str]
    affected: list[str]
    escalated: bool
    resellers: list[str] = field(default_factory=list)
    tenants_affected: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PanelNotice:
    incident_id: int | None
    kind: str                         # notice | report
    sent_at: datetime | None
    recipients: list[str]
    subject: str
    status: str                       # sent | failed
    audience: str


def _inventory_dir(inventory_dir: Path | None) -> Path:
    if inventory_dir is not None:
        return Path(inventory_dir)
    from oemhost.config import load_settings

    return load_settings().inventory_dir


def _tenants_on(inventory: Path) -> dict[str, list[tuple[str, str]]]:
    """node -> [(tenant id, reseller id)] for tenants not removed."""
    out: dict[str, list[tuple[str, str]]] = {}
    for path, d in _records(inventory / "state" / "tenants"):
        if d.get("status") == "removed" or not d.get("node"):
            continue
        out.setdefault(str(d["node"]), []).append((str(d.get("id", path.stem)),
                                                    str(d.get("reseller", ""))))
    return out


def list_incidents(session: Session, *, reseller: str | None = None, node: str | None = None,
                   open_only: bool = False, limit: int = 100,
                   inventory_dir: Path | None = None) -> list[PanelIncident]:
    inventory = _inventory_dir(inventory_dir)
    nodes: Iterable[str] | None = None
    if reseller is not None:
        nodes = nodes_of_reseller(inventory, reseller)
    if node is not None:
        nodes = [node] if nodes is None or node in set(nodes) else []
    rows = queries.list_incidents(session, status="open" if open_only else None, nodes=nodes,
                                  limit=limit)
    tenants = _tenants_on(inventory) if rows else {}
    out = []
    for i in rows:
        on_node = tenants.get(i.node, [])
        mine = [t for t, r in on_node if reseller is None or r == reseller]
        out.append(PanelIncident(
            id=i.id, node=i.node, service=i.service,
            status="open" if i.status == "open" else "resolved",
            opened_at=i.started_at, resolved_at=i.recovered_at, summary=i.summary,
            level=i.level, failing=i.failing, affected=i.affected, escalated=i.escalated,
            resellers=sorted({r for _t, r in on_node if r} if reseller is None
                             else {reseller}),
            tenants_affected=sorted(mine)))
    return out


def list_notices(session: Session, *, reseller: str | None = None,
                 limit: int = 100) -> list[PanelNotice]:
    audience = f"reseller:{reseller}" if reseller is not None else None
    return [PanelNotice(incident_id=n.incident_id, kind=n.kind, sent_at=n.sent_at,
                        recipients=n.recipients, subject=n.subject, status=n.status,
                        audience=n.audience)
            for n in queries.list_notifications(session, audience=audience, limit=limit)]


def node_status(session: Session) -> dict[str, dict[str, Any]]:
    """``{node: {"up": bool, "checked_at": datetime, "status": "ok|warning|critical|unknown",
    "services": {protocol: "ok" | "failing"}, "open_incidents": [ids]}}``."""
    out = {}
    for n in queries.status_board(session):
        services = {c.protocol: ("ok" if c.status in (Status.OK, Status.WARNING) else "failing")
                    for c in n.checks if c.protocol != "ping"}
        out[n.node] = {"up": bool(n.up), "status": n.status.value,
                       "checked_at": max(c.last_checked_at for c in n.checks),
                       "services": services, "open_incidents": n.open_incidents}
    return out
