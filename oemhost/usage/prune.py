"""Retention and downsampling of usage samples (run by the scheduler, and by hand).

Raw samples older than ``raw_days`` are averaged into one ``hour`` sample per node (or
tenant) and hour; hourly ones older than ``hourly_days`` into one ``day`` sample per day;
daily ones older than ``daily_days`` are deleted (0 keeps them). The cut-offs are aligned
to whole hours/days, so a bucket is always made from all its samples at once; a bucket
that already exists (a clock moved back) is merged, weighted by sample counts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from oemhost.db.models.usage import UsageNodeSample, UsageTenantSample
from oemhost.usage.config import UsageConfig

NODE_VALUES = ("disk_used_mb", "disk_total_mb", "mem_used_mb", "mem_total_mb", "load1",
               "net_rx_bps", "net_tx_bps")
TENANT_VALUES = ("web_mb", "mail_mb", "db_mb")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class PruneResult:
    to_hour: int = 0
    to_day: int = 0
    deleted: int = 0

    def line(self) -> str:
        return (f"usage prune: {self.to_hour} raw -> hourly, {self.to_day} hourly -> daily, "
                f"{self.deleted} deleted")


def _floor(at: datetime, width: timedelta) -> datetime:
    return at - ((at - EPOCH) % width)


def _average(rows, values) -> dict[str, float | None]:
    out = {}
    for name in values:
        pairs = [(getattr(r, name), r.samples) for r in rows if getattr(r, name) is not None]
        weight = sum(n for _, n in pairs)
        out[name] = sum(v * n for v, n in pairs) / weight if weight else None
    return out


def _downsample(session, model, key: str, values, src: str, dst: str, width: timedelta,
                cutoff: datetime) -> int:
    rows = session.scalars(select(model).where(model.resolution == src, model.at < cutoff)
                           .order_by(model.at)).all()
    if not rows:
        return 0
    groups = defaultdict(list)
    for r in rows:
        groups[(getattr(r, key), _floor(r.at, width))].append(r)
    # buckets made by an earlier pass (only if the clock moved back), in one query
    first = min(b for _, b in groups)
    found = {(getattr(r, key), r.at): r for r in session.scalars(select(model).where(
        model.resolution == dst, model.at >= first, model.at < cutoff))}
    for (subject, bucket), members in groups.items():
        existing = found.get((subject, bucket))
        if existing is not None:
            members = [*members, existing]
        avg = _average(members, values)
        fields = {k: (0.0 if v is None and k not in ("load1", "net_rx_bps", "net_tx_bps")
                      else v) for k, v in avg.items()}
        samples = sum(m.samples for m in members)
        extra = {"node": members[0].node} if key == "tenant" else {"filesystems": []}
        if existing is not None:
            for k, v in fields.items():
                setattr(existing, k, v)
            existing.samples = samples
        else:
            session.add(model(**{key: subject}, at=bucket, resolution=dst, samples=samples,
                              **fields, **extra))
    ids = [r.id for r in rows]
    for i in range(0, len(ids), 500):
        session.execute(delete(model).where(model.id.in_(ids[i:i + 500])))
    return len(rows)


def prune(session, cfg: UsageConfig, now: datetime | None = None) -> PruneResult:
    """Downsample and delete in ``session`` (the caller commits)."""
    now = now or datetime.now(UTC)
    hour, day = timedelta(hours=1), timedelta(days=1)
    raw_cut = _floor(now - timedelta(days=cfg.raw_days), hour)
    hour_cut = _floor(now - timedelta(days=cfg.hourly_days), day)
    res = PruneResult()
    for model, key, values in ((UsageNodeSample, "node", NODE_VALUES),
                               (UsageTenantSample, "tenant", TENANT_VALUES)):
        res.to_hour += _downsample(session, model, key, values, "raw", "hour", hour, raw_cut)
        res.to_day += _downsample(session, model, key, values, "hour", "day", day, hour_cut)
        if cfg.daily_days:
            day_cut = now - timedelta(days=cfg.daily_days)
            res.deleted += session.execute(delete(model).where(
                model.resolution == "day", model.at < day_cut)).rowcount or 0
    session.flush()
    return res
