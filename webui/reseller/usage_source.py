"""The seam between the panels and usage collection (``oemhost.usage``, docs/USAGE.md).

The reseller's "server usage" page and the end user's usage need, working in a
SQLAlchemy session:

* ``oemhost.usage.node_now(session, node)`` -> ``{"at": datetime, "disk_used_mb",
  "disk_total_mb", "mem_used_mb", "mem_total_mb", "net_rx_bps", "net_tx_bps"}`` or None;
* ``oemhost.usage.node_series(session, node, metric, period)`` with ``metric`` one of
  ``disk_used_mb``, ``mem_used_mb``, ``net_rx_bps``, ``net_tx_bps`` and ``period`` one of
  ``day`` (5-minute points), ``week`` (hourly), ``month`` (daily) -> ``[(datetime,
  float), ...]`` oldest first;
* ``oemhost.usage.tenant_disk(session, tenant_ids)`` -> ``{tenant: {"web_mb": float,
  "mail_mb": float, "at": datetime}}`` (latest sample per tenant; one query for a page).

Without it (:func:`available` False), or before the first collection, the pages show the
plan limits with "not measured yet" instead of figures. ``quota_warnings`` names the
areas at 80 % / 100 % of their limit.
"""

from __future__ import annotations

import importlib
from typing import Any

METRICS = ("disk_used_mb", "mem_used_mb", "net_rx_bps", "net_tx_bps")
PERIODS = ("day", "week", "month")


def _usage():
    try:
        mod = importlib.import_module("oemhost.usage")
    except ImportError:
        return None
    needed = ("node_now", "node_series", "tenant_disk")
    return mod if all(hasattr(mod, n) for n in needed) else None


def available() -> bool:
    return _usage() is not None


def node_now(session, node: str) -> dict[str, Any] | None:
    mod = _usage()
    return mod.node_now(session, node) if mod else None


def node_series(session, node: str, metric: str, period: str) -> list[tuple[Any, float]]:
    if metric not in METRICS or period not in PERIODS:
        raise ValueError(f"unknown metric/period {metric}/{period}")
    mod = _usage()
    return list(mod.node_series(session, node, metric, period)) if mod else []


def tenant_disk(session, tenant_ids: list[str]) -> dict[str, dict[str, Any]]:
    mod = _usage()
    return dict(mod.tenant_disk(session, tenant_ids)) if mod and tenant_ids else {}


def quota_warnings(disk, *, web_mb, mail_mb, total_mb) -> list[dict[str, Any]]:
    """Areas at 80 % (``warning``) or 100 % (``full``) of their limit (none unmeasured)."""
    mod = _usage()
    if not mod or not disk or not hasattr(mod, "quota_warnings"):
        return []
    return mod.quota_warnings(disk, web_mb=web_mb, mail_mb=mail_mb, total_mb=total_mb)
