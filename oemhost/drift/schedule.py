"""Drift checks in the worker's APScheduler (3.x), like ``oemhost.monitor.schedule``.

``oemhost.drift.check`` (every ``[drift] interval``) submits one low-priority ``drift``
job (``site.yml``, run by the worker with ``--check --diff``) per node of the inventory
that has none queued or running, and keeps the newest ``keep_per_node`` reports per node.

```toml
[drift]
interval = 21600          # s between checks of every node (6 hours)
keep_per_node = 50        # reports kept per node
misfire_grace_time = 600  # s a late scheduler run may still start
```
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

from oemhost.config import Settings, load_settings
from oemhost.errors import OemhostError

log = logging.getLogger("oemhost.drift")

CHECK_JOB = "oemhost.drift.check"


@dataclass(frozen=True)
class DriftConfig:
    interval: int = 21600
    keep_per_node: int = 50
    misfire_grace_time: int = 600

    @classmethod
    def from_settings(cls, settings: Settings) -> DriftConfig:
        raw = dict(settings.section("drift"))
        unknown = sorted(set(raw) - {f.name for f in fields(cls)})
        if unknown:
            raise OemhostError(f"config: [drift]: unknown setting(s) {', '.join(unknown)}")
        for name, value in raw.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise OemhostError(f"config: [drift] {name}: a whole number >= 1")
        cfg = cls(**raw)
        if cfg.interval < 300:
            raise OemhostError("config: [drift] interval: at least 300 s")
        return cfg


def register(scheduler, settings: Settings) -> list[str]:
    cfg = DriftConfig.from_settings(settings)
    scheduler.add_job(f"{__name__}:run_check", trigger="interval", id=CHECK_JOB,
                      name="drift: submit check-mode runs", seconds=cfg.interval,
                      next_run_time=datetime.now(UTC) + timedelta(seconds=300),
                      replace_existing=True, max_instances=1, coalesce=True,
                      misfire_grace_time=cfg.misfire_grace_time)
    log.info("drift: check every %d s", cfg.interval)
    return [CHECK_JOB]


def run_check() -> str:
    from oemhost.db import make_engine, session_factory, session_scope
    from oemhost.drift.report import PLAYBOOK, prune
    from oemhost.usage.schedule import submit_periodic

    settings = load_settings()
    cfg = DriftConfig.from_settings(settings)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            ids = submit_periodic(session, settings, kind="drift", playbook=PLAYBOOK,
                                  requested_by="scheduler:drift", reason="periodic drift check")
            pruned = prune(session, cfg.keep_per_node)
    finally:
        engine.dispose()
    return f"drift: {len(ids)} check job(s) submitted, {pruned} old report(s) removed"
