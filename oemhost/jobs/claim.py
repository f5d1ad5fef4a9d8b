"""Taking queued jobs: per-node order, node locks, and coalescing into runs.

The queue is read in order (priority, then the time each job was queued). A job whose
nodes are all free becomes a run; a job whose nodes are busy *reserves* them, so that a
later job for one of those nodes cannot overtake it (per-node order, no starvation).

Provisioning jobs are coalesced: queued jobs of the same kind, playbook, nodes, tags and
extra vars merge into one run, up to the first queued job for those nodes that cannot
merge. Their tenant scopes are joined; a job for the whole node (no scope) absorbs the
scoped ones. To let a burst of panel edits settle, a coalescing run starts once no new
job came for ``coalesce_settle`` seconds, at the latest ``coalesce_max_delay`` after the
first one.

Claiming is one transaction that inserts the run, its node lock rows (primary key: the
node) and moves the jobs from ``queued`` to ``running`` only if they still are: two
workers can never take the same job or the same node, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from oemhost.db.models.jobs import Job, JobNodeLock, JobRun, JobWorker, db_now, utcnow
from oemhost.jobs.config import COALESCE_KINDS, JobsConfig

log = logging.getLogger("oemhost.jobs")
QUEUE_WINDOW = 5000  # queued jobs looked at per claim


def mergeable(a: Job, b: Job) -> bool:
    return (a.kind == b.kind and a.kind in COALESCE_KINDS and a.playbook == b.playbook
            and sorted(a.nodes) == sorted(b.nodes) and sorted(a.tags) == sorted(b.tags)
            and a.extravars == b.extravars)


def merged_scope(jobs: Sequence[Job]) -> list[str] | None:
    if any(j.tenant_scope is None for j in jobs):
        return None
    return sorted({t for j in jobs for t in j.tenant_scope or ()})


def plan(queued: Sequence[Job], busy: set[str], now: datetime, cfg: JobsConfig,
         capacity: int) -> list[list[Job]]:
    """Which queued jobs start now, grouped by run (pure: no database)."""
    groups: list[list[Job]] = []
    taken: set[int] = set()
    blocked = set(busy)
    for i, job in enumerate(queued):
        if len(groups) >= capacity:
            break
        if job.id in taken:
            continue
        nodes = set(job.nodes)
        if nodes & blocked:
            blocked |= nodes  # keeps its place: later jobs for these nodes wait behind it
            continue
        group = [job]
        if job.kind in COALESCE_KINDS:
            for other in queued[i + 1:]:
                if other.id in taken or not nodes & set(other.nodes):
                    continue
                if not mergeable(job, other):
                    break
                group.append(other)
            newest = max(j.created_at for j in group)
            oldest = min(j.created_at for j in group)
            if ((now - newest).total_seconds() < cfg.coalesce_settle
                    and (now - oldest).total_seconds() < cfg.coalesce_max_delay):
                blocked |= nodes  # still settling
                continue
        taken.update(j.id for j in group)
        blocked |= nodes
        groups.append(group)
    return groups


@dataclass
class Claimed:
    run_id: int
    job_ids: list[int]


def claim(factory, worker_id: str, cfg: JobsConfig, settings, capacity: int) -> list[Claimed]:
    """Start up to ``capacity`` runs from the queue; [] when nothing can start (or another
    worker won a race: the next poll tries again)."""
    if capacity <= 0:
        return []
    now = utcnow()
    claimed: list[Claimed] = []
    try:
        with factory() as s, s.begin():
            # write first: on SQLite this takes the write lock before anything is read
            s.execute(update(JobWorker).where(JobWorker.id == worker_id)
                      .values(heartbeat_at=db_now()))
            queued = s.scalars(select(Job).where(Job.status == "queued")
                               .order_by(Job.priority.desc(), Job.queued_at, Job.id)
                               .limit(QUEUE_WINDOW)).all()
            if not queued:
                return []
            busy = set(s.scalars(select(JobNodeLock.node)))
            for group in plan(queued, busy, now, cfg, capacity):
                first = group[0]
                run = JobRun(worker_id=worker_id, kind=first.kind, playbook=first.playbook,
                             nodes=sorted(first.nodes), tenant_scope=merged_scope(group),
                             tags=list(first.tags), extravars=dict(first.extravars),
                             status="running", timeout_s=cfg.timeout_for(first.kind),
                             private_data_dir="", started_at=now)
                s.add(run)
                s.flush()
                run.private_data_dir = str(settings.state_dir / "jobs" / str(run.id))
                s.add_all(JobNodeLock(node=n, run_id=run.id, worker_id=worker_id,
                                      acquired_at=now) for n in run.nodes)
                s.flush()
                ids = [j.id for j in group]
                res = s.execute(update(Job).where(Job.id.in_(ids), Job.status == "queued")
                                .values(status="running", run_id=run.id, started_at=now)
                                .execution_options(synchronize_session=False))
                if res.rowcount != len(ids):
                    raise _LostRace(f"jobs {ids} changed while being claimed")
                claimed.append(Claimed(run.id, ids))
    except (_LostRace, IntegrityError) as exc:
        log.info("claim lost a race (%s); trying again", str(exc).splitlines()[0])
        return []
    except OperationalError as exc:
        if "deadlock" not in str(exc).lower():
            raise
        log.info("claim lost a race (deadlock detected); trying again")
        return []
    return claimed


class _LostRace(Exception):
    pass
