"""What the panels read (the seam described in ``webui/reseller/usage_source.py``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from oemhost.db.models.usage import UsageNodeSample, UsageTenantCurrent

METRICS = ("disk_used_mb", "mem_used_mb", "net_rx_bps", "net_tx_bps")
# period -> (window, bucket width)
PERIODS = {
    "day": (timedelta(days=1), timedelta(minutes=5)),
    "week": (timedelta(days=7), timedelta(hours=1)),
    "month": (timedelta(days=31), timedelta(days=1)),
}


def node_now(session, node: str) -> dict[str, Any] | None:
    """The newest raw sample of ``node``, or None when it was never collected."""
    row = session.scalars(
        select(UsageNodeSample)
        .where(UsageNodeSample.node == node, UsageNodeSample.resolution == "raw")
        .order_by(UsageNodeSample.at.desc()).limit(1)).first()
    if row is None:
        return None
    return {"at": row.at, "disk_used_mb": row.disk_used_mb, "disk_total_mb": row.disk_total_mb,
            "mem_used_mb": row.mem_used_mb, "mem_total_mb": row.mem_total_mb,
            "net_rx_bps": row.net_rx_bps, "net_tx_bps": row.net_tx_bps, "load1": row.load1,
            "filesystems": list(row.filesystems or [])}


def _floor(at: datetime, width: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return at - ((at - epoch) % width)


def node_series(session, node: str, metric: str, period: str,
                now: datetime | None = None) -> list[tuple[datetime, float]]:
    """``metric`` of ``node`` over ``period``, averaged per bucket, oldest first.

    Reads every resolution in the window (raw for the newest days, hourly and daily
    further back, as the prune left them) and averages them into the period's buckets,
    weighted by how many raw samples each row stands for."""
    if metric not in METRICS or period not in PERIODS:
        raise ValueError(f"unknown metric/period {metric}/{period}")
    window, width = PERIODS[period]
    now = now or datetime.now(UTC)
    column = getattr(UsageNodeSample, metric)
    rows = session.execute(
        select(UsageNodeSample.at, UsageNodeSample.samples, column)
        .where(UsageNodeSample.node == node, UsageNodeSample.at >= now - window,
               column.is_not(None))
        .order_by(UsageNodeSample.at)).all()
    sums: dict[datetime, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for at, samples, value in rows:
        acc = sums[_floor(at, width)]
        acc[0] += value * samples
        acc[1] += samples
    return [(at, total / count) for at, (total, count) in sorted(sums.items()) if count]


def tenant_disk(session, tenant_ids) -> dict[str, dict[str, Any]]:
    """The newest figures of each of ``tenant_ids`` (one query)."""
    ids = list(tenant_ids)
    if not ids:
        return {}
    out = {}
    for row in session.scalars(select(UsageTenantCurrent)
                               .where(UsageTenantCurrent.tenant.in_(ids))):
        out[row.tenant] = {
            "at": row.at, "node": row.node, "web_mb": row.web_mb, "mail_mb": row.mail_mb,
            "db_mb": row.db_mb, "web_limit_mb": row.web_limit_mb,
            "mail_limit_mb": row.mail_limit_mb, "total_limit_mb": row.total_limit_mb,
            "mailboxes": dict(row.mailboxes or {}), "databases": list(row.databases or [])}
    return out


WARN_PCT = 80.0
FULL_PCT = 100.0


def quota_warnings(disk: dict[str, Any] | None, *, web_mb: float | None,
                   mail_mb: float | None, total_mb: float | None) -> list[dict[str, Any]]:
    """Areas of a tenant at 80 % (``warning``) or 100 % (``full``) of their limit.

    ``disk`` is a :func:`tenant_disk` entry; the limits are the inventory's (the tenant's
    web/mail split and its plan's total), which is what the reseller sold."""
    if not disk:
        return []
    used = {"web": disk.get("web_mb") or 0.0, "mail": disk.get("mail_mb") or 0.0}
    used["total"] = used["web"] + used["mail"]
    out = []
    for area, limit in (("web", web_mb), ("mail", mail_mb), ("total", total_mb)):
        if not limit or limit <= 0:
            continue
        pct = 100.0 * used[area] / limit
        if pct >= WARN_PCT:
            out.append({"area": area, "used_mb": used[area], "limit_mb": float(limit),
                        "pct": pct, "level": "full" if pct >= FULL_PCT else "warning"})
    return out
