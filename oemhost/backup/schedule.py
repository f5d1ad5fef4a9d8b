"""The backup status collection in the worker's APScheduler (3.x).

The worker imports this module (``SCHEDULE_MODULES`` in ``oemhost.jobs.worker``) and calls
:func:`register` once. Every ``[backup] collect_interval`` seconds :func:`submit_collection`
queues ONE low-priority ``backup`` job that runs ``collect_backup_status.yml`` on every
node (nothing changes on the nodes); its result files reach
:func:`oemhost.backup.collect.handle_results`. A collection still queued or running is not
doubled. Then :func:`oemhost.backup.collect.refresh` re-derives the stored states, so a
node that stopped reporting still goes stale.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from oemhost.backup.config import BackupConfig
from oemhost.config import Settings, load_settings

log = logging.getLogger("oemhost.backup")

COLLECT_JOB = "oemhost.backup.collect"
PLAYBOOK = "collect_backup_status.yml"
REQUESTED_BY = "backup"


def register(scheduler, settings: Settings) -> list[str]:
    cfg = BackupConfig.from_settings(settings)
    if not cfg.enabled:
        return []
    scheduler.add_job(f"{__name__}:run_collection", id=COLLECT_JOB,
                      name="backup: collect the nodes' backup status", trigger="interval",
                      seconds=cfg.collect_interval, replace_existing=True, max_instances=1,
                      coalesce=True, misfire_grace_time=120,
                      next_run_time=datetime.now(UTC) + timedelta(seconds=60))
    log.info("backup: status collection every %g s", cfg.collect_interval)
    return [COLLECT_JOB]


def submit_collection(settings: Settings, session) -> int | None:
    """Queue the collection job unless one is pending; its id (None: nothing to do)."""
    from oemhost import jobs
    from oemhost.db.models.jobs import Job
    from oemhost.jobs.inventory import node_names

    nodes = sorted(node_names(settings))
    if not nodes:
        return None
    pending = session.scalar(select(Job.id).where(
        Job.kind == "backup", Job.playbook == PLAYBOOK, Job.status.in_(("queued", "running"))
    ).limit(1))
    if pending is not None:
        return None
    job = jobs.submit(session, kind="backup", playbook=PLAYBOOK, nodes=nodes,
                      requested_by=REQUESTED_BY, reason="scheduled backup status collection",
                      settings=settings)
    return job.id


def run_collection() -> str:
    """Scheduler entry point."""
    from oemhost.backup.collect import refresh
    from oemhost.monitor.db import sessions

    settings = load_settings()
    with sessions(settings)() as session:
        job_id = submit_collection(settings, session)
        session.commit()
    refreshed = refresh(settings)
    return f"backup: collection job {job_id or '(pending)'}; {refreshed} node states refreshed"
