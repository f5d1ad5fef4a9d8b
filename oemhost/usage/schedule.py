"""Usage collection in the worker's APScheduler (3.x), like ``oemhost.monitor.schedule``.

Two jobs with stable ids, ``replace_existing=True``, ``"module:function"`` callables, an
explicit ``misfire_grace_time``, ``max_instances=1`` and ``coalesce=True`` (FACTS.md):

- ``oemhost.usage.collect`` (every ``[usage] interval``, 10 minutes): submits one
  low-priority ``usage`` job (``playbooks/collect_usage.yml``) per node of the inventory
  through :func:`oemhost.jobs.submit`, skipping a node whose previous one has not run yet
  (a busy node never piles up collections);
- ``oemhost.usage.prune`` (every ``[usage] prune_interval``): downsampling and retention.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from oemhost.config import Settings, load_settings
from oemhost.usage.config import UsageConfig

log = logging.getLogger("oemhost.usage")

COLLECT_JOB = "oemhost.usage.collect"
PRUNE_JOB = "oemhost.usage.prune"
PLAYBOOK = "collect_usage.yml"


def register(scheduler, settings: Settings) -> list[str]:
    cfg = UsageConfig.from_settings(settings)
    now = datetime.now(UTC)
    common = {"trigger": "interval", "replace_existing": True, "max_instances": 1,
              "coalesce": True, "misfire_grace_time": int(cfg.misfire_grace_time)}
    scheduler.add_job(f"{__name__}:run_collect", id=COLLECT_JOB,
                      name="usage: submit collection jobs", seconds=cfg.interval,
                      next_run_time=now + timedelta(seconds=30), **common)
    scheduler.add_job(f"{__name__}:run_prune", id=PRUNE_JOB,
                      name="usage: downsample and prune samples", seconds=cfg.prune_interval,
                      next_run_time=now + timedelta(seconds=120), **common)
    log.info("usage: collection every %g s, prune every %g s", cfg.interval,
             cfg.prune_interval)
    return [COLLECT_JOB, PRUNE_JOB]


def submit_periodic(session, settings: Settings, *, kind: str, playbook: str,
                    requested_by: str, reason: str) -> list[int]:
    """One job of ``kind`` per inventory node that has none queued or running; returns the
    new job ids (the caller commits). Shared by usage collection and drift checks."""
    from oemhost import jobs
    from oemhost.jobs.inventory import node_names

    pending = set()
    for nodes in session.scalars(select(jobs.Job.nodes).where(
            jobs.Job.kind == kind, jobs.Job.status.in_(("queued", "running")))):
        pending.update(nodes or [])
    ids = []
    for node in sorted(node_names(settings) - pending):
        job = jobs.submit(session, kind=kind, playbook=playbook, nodes=[node],
                          requested_by=requested_by, reason=reason, settings=settings)
        ids.append(job.id)
    return ids


def run_collect() -> str:
    from oemhost.db import make_engine, session_factory, session_scope

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            ids = submit_periodic(session, settings, kind="usage", playbook=PLAYBOOK,
                                  requested_by="scheduler:usage",
                                  reason="periodic usage collection")
    finally:
        engine.dispose()
    return f"usage: {len(ids)} collection job(s) submitted"


def run_prune() -> str:
    from oemhost.db import make_engine, session_factory, session_scope
    from oemhost.usage.prune import prune

    settings = load_settings()
    cfg = UsageConfig.from_settings(settings)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            return prune(session, cfg).line()
    finally:
        engine.dispose()
