"""Storing what ``playbooks/collect_usage.yml`` hands back (results hand-off ``usage``).

Each result file is ``usage--<node>.json``::

    {"node": "node1",
     "usage": <oemhost_usage's result: {"node": {...}, "tenants": {...}}>,
     "databases": [<oemhost_database_usage's "databases" entries of every engine>]}

Network traffic is stored as rates (bits per second) from the delta of the byte counters
since the previous collection of the node; a counter that went down (the node rebooted,
its ``boot_id`` changed, an interface was re-created, a 32-bit counter wrapped) is taken
as restarted from zero, so no negative or huge spike is stored.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from oemhost.db import make_engine, session_factory, session_scope
from oemhost.db.models.usage import (
    UsageNodeCounters,
    UsageNodeSample,
    UsageTenantCurrent,
    UsageTenantSample,
)

log = logging.getLogger("oemhost.usage")

MB = 1024 * 1024
NODE_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
TENANT_RE = re.compile(r"^[a-z][a-z0-9]{2,31}$")
MAX_FILE_BYTES = 64 * MB


def network_rates(prev: dict[str, Any] | None, prev_at: datetime | None, prev_boot: str,
                  cur: dict[str, Any], cur_at: datetime, cur_boot: str
                  ) -> tuple[float | None, float | None]:
    """(rx, tx) bits per second summed over interfaces, or (None, None) without a base.

    Per interface, delta = now - before; a counter that went down, or any counter after a
    reboot (another boot id), restarted from zero: its delta is its current value. An
    interface seen for the first time counts from zero only after a reboot (otherwise its
    counters may hold traffic from before the base)."""
    if prev is None or prev_at is None:
        return None, None
    seconds = (cur_at - prev_at).total_seconds()
    if seconds <= 0:
        return None, None
    rebooted = bool(prev_boot and cur_boot and prev_boot != cur_boot)
    rx = tx = 0
    for iface, now in cur.items():
        before = prev.get(iface)
        if before is None and not rebooted:
            continue
        for key in ("rx_bytes", "tx_bytes"):
            value = int(now.get(key, 0))
            base = 0 if (before is None or rebooted) else int(before.get(key, 0))
            delta = value - base if value >= base else value
            if key == "rx_bytes":
                rx += delta
            else:
                tx += delta
    return rx * 8 / seconds, tx * 8 / seconds


def _mb(value) -> float:
    return round(int(value or 0) / MB, 3)


def _mb_or_none(value) -> float | None:
    return None if value is None else _mb(value)


def record(session, node: str, payload: dict[str, Any], at: datetime | None = None) -> None:
    """Store one collection of ``node`` (the hand-off file's content) in ``session``."""
    if not NODE_RE.match(node):
        raise ValueError(f"bad node name {node!r}")
    usage = payload.get("usage") or {}
    facts = usage.get("node") or {}
    at = at or datetime.now(UTC)
    filesystems = [{"mount": str(f.get("mount", ""))[:200], "fstype": str(f.get("fstype", ""))[:20],
                    "used_mb": _mb(f.get("used_bytes")), "total_mb": _mb(f.get("total_bytes"))}
                   for f in facts.get("filesystems") or []]
    mem = facts.get("memory") or {}
    counters = {str(k)[:40]: {"rx_bytes": int(v.get("rx_bytes", 0)),
                              "tx_bytes": int(v.get("tx_bytes", 0))}
                for k, v in (facts.get("network") or {}).items()}
    boot_id = str(facts.get("boot_id") or "")[:64]
    prev = session.get(UsageNodeCounters, node)
    rx, tx = network_rates(prev.counters if prev else None, prev.at if prev else None,
                           prev.boot_id if prev else "", counters, at, boot_id)
    if prev is None:
        session.add(UsageNodeCounters(node=node, at=at, boot_id=boot_id, counters=counters))
    else:
        prev.at, prev.boot_id, prev.counters = at, boot_id, counters
    load = facts.get("load") or [None]
    session.add(UsageNodeSample(
        node=node, at=at, resolution="raw", samples=1,
        disk_used_mb=sum(f["used_mb"] for f in filesystems),
        disk_total_mb=sum(f["total_mb"] for f in filesystems),
        mem_used_mb=_mb(mem.get("used_bytes")), mem_total_mb=_mb(mem.get("total_bytes")),
        load1=float(load[0]) if load and load[0] is not None else None,
        net_rx_bps=rx, net_tx_bps=tx, filesystems=filesystems))
    databases: dict[str, list[dict[str, Any]]] = {}
    for db in payload.get("databases") or []:
        databases.setdefault(str(db.get("tenant")), []).append(
            {"engine": str(db.get("engine"))[:12], "name": str(db.get("name"))[:64],
             "mb": _mb(db.get("bytes"))})
    tenants = usage.get("tenants") or {}
    current = {c.tenant: c for c in session.scalars(
        select(UsageTenantCurrent).where(UsageTenantCurrent.tenant.in_(list(tenants))))}
    for tenant, t in tenants.items():
        if not TENANT_RE.match(tenant):
            log.warning("usage of %s: ignoring tenant %r", node, tenant)
            continue
        web, mail, total = (t.get(a) or {} for a in ("web", "mail", "total"))
        dbs = databases.get(tenant, [])
        values = dict(
            node=node, at=at, web_mb=_mb(web.get("used")), mail_mb=_mb(mail.get("used")),
            db_mb=round(sum(d["mb"] for d in dbs), 3))
        session.add(UsageTenantSample(tenant=tenant, resolution="raw", samples=1, **values))
        mailboxes = {str(a)[:254]: {"mb": _mb(b.get("bytes")), "limit_mb": _mb_or_none(
            b.get("limit")), "messages": int(b.get("messages") or 0)}
            for a, b in (t.get("mailboxes") or {}).items()}
        extra = dict(web_limit_mb=_mb_or_none(web.get("limit")),
                     mail_limit_mb=_mb_or_none(mail.get("limit")),
                     total_limit_mb=_mb_or_none(total.get("limit")),
                     mailboxes=mailboxes, databases=dbs)
        row = current.get(tenant)
        if row is None:
            session.add(UsageTenantCurrent(tenant=tenant, **values, **extra))
        else:
            for k, v in {**values, **extra}.items():
                setattr(row, k, v)


def handle_results(settings, run, files: list[Path]) -> None:
    """The results hand-off's ``usage`` handler: one file per node, one transaction each."""
    engine = make_engine(settings.database_url)
    try:
        _handle(session_factory(engine), run, files)
    finally:
        engine.dispose()


def _handle(factory, run, files: list[Path]) -> None:
    for path in files:
        node = path.name.removeprefix("usage--").removesuffix(".json")
        if node not in run.nodes:
            log.warning("run %s: usage result for %r, not a node of the run", run.run_id, node)
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            log.warning("run %s: usage result of %s too big, ignored", run.run_id, node)
            continue
        try:
            payload = json.loads(path.read_text())
            with session_scope(factory) as session:
                record(session, node, payload)
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("run %s: usage result of %s unusable: %s", run.run_id, node, exc)
