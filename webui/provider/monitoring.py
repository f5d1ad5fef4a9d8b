"""The seam between the panels and the monitor (``oemhost.monitor``, another engineer's).

The panels need, from the monitor, three read functions working in a SQLAlchemy session:

* ``oemhost.monitor.list_incidents(session, *, reseller=None, node=None, open_only=False,
  limit=100)`` -> objects with ``id``, ``node``, ``service``, ``status`` (open / resolved),
  ``opened_at``, ``resolved_at``, ``summary``, ``level`` and ``tenants_affected`` (a list of
  tenant ids, or the resellers affected via ``resellers``);
* ``oemhost.monitor.list_notices(session, *, reseller=None, limit=100)`` -> the failure
  notices and reports sent: ``incident_id``, ``kind`` (notice / report), ``sent_at``,
  ``recipients``, ``subject``;
* ``oemhost.monitor.node_status(session)`` -> ``{node: {"up": bool, "checked_at": ...,
  "services": {service: "ok" | "failing"}}}``.

Until the monitor provides them, every function here answers "no data" and the pages say
so (``available`` is False); the provider sees the failed jobs instead.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class MonitorView:
    available: bool
    incidents: list[Any] = field(default_factory=list)
    notices: list[Any] = field(default_factory=list)
    node_status: dict[str, Any] = field(default_factory=dict)


def _monitor():
    try:
        mod = importlib.import_module("oemhost.monitor")
    except ImportError:
        return None
    needed = ("list_incidents", "list_notices", "node_status")
    return mod if all(hasattr(mod, n) for n in needed) else None


def view(session, *, reseller: str | None = None, node: str | None = None,
         limit: int = 100) -> MonitorView:
    mod = _monitor()
    if mod is None:
        return MonitorView(available=False)
    return MonitorView(
        available=True,
        incidents=list(mod.list_incidents(session, reseller=reseller, node=node,
                                          limit=limit)),
        notices=list(mod.list_notices(session, reseller=reseller, limit=limit)),
        node_status=dict(mod.node_status(session)))
