"""The ``[usage]`` table of the settings, checked once, with defaults.

```toml
[usage]
interval = 600            # s between collections (one low-priority job per node)
prune_interval = 3600     # s between prune/downsampling passes
raw_days = 2              # raw samples kept this long, then averaged into hourly ones
hourly_days = 90          # hourly samples kept this long, then averaged into daily ones
daily_days = 0            # daily samples kept this long (0 = for ever)
misfire_grace_time = 300  # s a late scheduler run may still start
```
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from oemhost.errors import OemhostError


@dataclass(frozen=True)
class UsageConfig:
    interval: float = 600.0
    prune_interval: float = 3600.0
    raw_days: float = 2.0
    hourly_days: float = 90.0
    daily_days: float = 0.0
    misfire_grace_time: float = 300.0

    @classmethod
    def from_settings(cls, settings) -> UsageConfig:
        raw = dict(settings.section("usage"))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise OemhostError(f"config: [usage]: unknown setting(s) {', '.join(unknown)}")
        for name, value in raw.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise OemhostError(f"config: [usage] {name}: a number of seconds/days >= 0")
        cfg = cls(**{k: float(v) for k, v in raw.items()})
        if cfg.interval < 60 or cfg.prune_interval < 60:
            raise OemhostError("config: [usage] interval and prune_interval: at least 60 s")
        if cfg.raw_days <= 0 or cfg.hourly_days < cfg.raw_days:
            raise OemhostError("config: [usage] raw_days > 0 and hourly_days >= raw_days")
        if cfg.daily_days and cfg.daily_days < cfg.hourly_days:
            raise OemhostError("config: [usage] daily_days: 0 or >= hourly_days")
        return cfg
