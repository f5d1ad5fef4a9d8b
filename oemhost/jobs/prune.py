"""Pruning by age: events and artifacts of old runs, then old job and run records.

``[jobs] keep_days`` (default 14) bounds the bulky part (events, the run's private data
dir); ``keep_records_days`` (default 400) the small records (who asked what, when, and how
it ended). The worker prunes hourly; ``oemhost jobs prune`` does it by hand.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from oemhost.db.models.jobs import Job, JobEvent, JobRun, JobSubject, utcnow
from oemhost.jobs.config import JobsConfig

BATCH = 500


@dataclass
class PruneResult:
    runs_pruned: int = 0
    events_deleted: int = 0
    jobs_deleted: int = 0
    runs_deleted: int = 0


def prune(factory, settings, cfg: JobsConfig, now: datetime | None = None) -> PruneResult:
    now = now or utcnow()
    out = PruneResult()
    cutoff = now - timedelta(days=cfg.keep_days)
    jobs_root = (settings.state_dir / "jobs").resolve()
    while True:
        with factory() as s, s.begin():
            runs = s.execute(select(JobRun.id, JobRun.private_data_dir).where(
                JobRun.finished_at < cutoff, JobRun.artifacts_pruned.is_(False))
                .limit(BATCH)).all()
            if not runs:
                break
            ids = [r.id for r in runs]
            res = s.execute(delete(JobEvent).where(JobEvent.run_id.in_(ids)))
            out.events_deleted += res.rowcount or 0
            s.execute(update(JobRun).where(JobRun.id.in_(ids)).values(artifacts_pruned=True))
            out.runs_pruned += len(ids)
        for r in runs:
            pdd = Path(r.private_data_dir) if r.private_data_dir else None
            # only ever remove inside <state_dir>/jobs
            if pdd is not None and pdd.resolve().parent == jobs_root:
                shutil.rmtree(pdd, ignore_errors=True)

    rcutoff = now - timedelta(days=cfg.keep_records_days)
    with factory() as s, s.begin():
        old = select(Job.id).where(Job.finished_at < rcutoff).scalar_subquery()
        s.execute(delete(JobSubject).where(JobSubject.job_id.in_(old)))
        s.execute(update(Job).where(Job.retry_of.in_(old)).values(retry_of=None))
        out.jobs_deleted = s.execute(delete(Job).where(Job.finished_at < rcutoff)).rowcount or 0
        unused = select(JobRun.id).where(JobRun.finished_at < rcutoff,
                                         ~JobRun.jobs.any()).scalar_subquery()
        s.execute(delete(JobEvent).where(JobEvent.run_id.in_(unused)))
        out.runs_deleted = s.execute(delete(JobRun).where(JobRun.id.in_(unused))).rowcount or 0
    return out
