"""``[backup]`` settings of the control plane (the node-side settings are role vars)."""

from __future__ import annotations

from dataclasses import dataclass

from oemhost.config import Settings
from oemhost.errors import OemhostError


@dataclass(frozen=True)
class BackupConfig:
    collect_interval: float = 1800.0  # s between two status collections
    stale_after_hours: float = 26.0  # no successful backup for longer: an incident
    incidents: bool = True  # open/resolve the node's `backup` incident in the monitor
    enabled: bool = True  # schedule the collection at all

    @classmethod
    def from_settings(cls, settings: Settings) -> BackupConfig:
        raw = settings.section("backup")
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise OemhostError(f"config: [backup] unknown setting {sorted(unknown)[0]!r}")
        values = {}
        for name in ("collect_interval", "stale_after_hours"):
            if name in raw:
                value = raw[name]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise OemhostError(f"config: [backup] {name} must be a positive number")
                values[name] = float(value)
        for name in ("incidents", "enabled"):
            if name in raw:
                if not isinstance(raw[name], bool):
                    raise OemhostError(f"config: [backup] {name} must be true or false")
                values[name] = raw[name]
        return cls(**values)
