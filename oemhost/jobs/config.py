"""The ``[jobs]`` table of the settings, checked once, with defaults.

```toml
[jobs]
max_parallel = 4          # runs at once (different nodes); one node never runs two
timeout = 3600            # seconds before a run is stopped and marked failed ("timed out")
timeouts = {usage = 900}  # per kind
poll_interval = 0.1       # how often the worker looks at the queue (s)
coalesce_settle = 0.25    # a provisioning job waits until no new one came for this long (s)
coalesce_max_delay = 0.9  # ... but never longer than this after the first one (s)
heartbeat_interval = 2    # worker heartbeat (s)
stale_after = 30          # a worker silent for this long is dead; its runs are recovered
keep_days = 14            # events and artifacts of finished runs
keep_records_days = 400   # job and run records
max_events_per_run = 3000 # stored events per run (failures and the recap always are)
vault_password_file = ""  # passed to ansible-playbook as --vault-password-file
```
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from oemhost.errors import OemhostError

KINDS = ("provision", "remove", "remediation", "reboot", "mail_lock", "usage", "drift",
         "backup", "restore", "mail_rate")

# Higher runs first: remediation/reboot > mail_lock > provision/remove > usage/drift/backup.
DEFAULT_PRIORITY = {
    "remediation": 100, "reboot": 100,
    "mail_lock": 80,
    "provision": 50, "remove": 50, "restore": 50,
    "usage": 10, "drift": 10, "backup": 10, "mail_rate": 10,
}

# Kinds run as a check: ansible-playbook --check --diff (drift detection changes nothing).
CHECK_MODE_KINDS = frozenset({"drift"})

# Kinds whose queued jobs for the same node are merged into one run.
COALESCE_KINDS = frozenset({"provision"})


@dataclass(frozen=True)
class JobsConfig:
    max_parallel: int = 4
    timeout: int = 3600
    timeouts: dict[str, int] = field(default_factory=dict)
    poll_interval: float = 0.1
    coalesce_settle: float = 0.25
    coalesce_max_delay: float = 0.9
    heartbeat_interval: float = 2.0
    stale_after: float = 30.0
    keep_days: float = 14.0
    keep_records_days: float = 400.0
    max_events_per_run: int = 3000
    max_stdout_chars: int = 4000
    vault_password_file: str = ""

    def timeout_for(self, kind: str) -> int:
        return int(self.timeouts.get(kind, self.timeout))

    @classmethod
    def from_settings(cls, settings) -> JobsConfig:
        raw: dict[str, Any] = dict(settings.section("jobs"))
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise OemhostError(f"config: [jobs]: unknown setting(s) {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in raw.items():
            default = getattr(cls, name, None) if name != "timeouts" else {}
            if name == "timeouts":
                if not isinstance(value, dict) or not all(
                        k in KINDS and isinstance(v, int) and v > 0 for k, v in value.items()):
                    raise OemhostError("config: [jobs] timeouts: a table of kind = seconds")
                values[name] = dict(value)
            elif name == "vault_password_file":
                if not isinstance(value, str):
                    raise OemhostError("config: [jobs] vault_password_file: a path")
                if value and not Path(value).is_file():
                    raise OemhostError(f"config: [jobs] vault_password_file: {value} not found")
                values[name] = value
            else:
                ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
                if not ok or (isinstance(default, int) and not isinstance(value, int)):
                    kind = "a positive integer" if isinstance(default, int) else "a positive number"
                    raise OemhostError(f"config: [jobs] {name}: must be {kind}")
                values[name] = value
        cfg = cls(**values)
        if cfg.heartbeat_interval * 4 > cfg.stale_after:
            raise OemhostError("config: [jobs] stale_after must be at least 4 heartbeat_interval")
        return cfg
