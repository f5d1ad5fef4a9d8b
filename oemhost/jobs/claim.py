"""Taking queued jobs: per-node order, node locks, and coalescing into runs.

The queue is read in order (priority, then the time each job was queued). A job whose
nodes are all free becomes a run; a job whose nodes are busy *reserves* them, so that a
later job for one of those nodes cannot overtake it (per-node order, no starvation).

Provisioning jobs are coalesced: queued jobs of the same kind, playbook, nodes, tags and
extra vars merge into one run, up to the first queued job for those nodes that cannot
merge. Their tenant scopes are joined; a job for the whole node (no scope) absorbs the
scoped ones. A lone change for a free node starts at once (the next poll): a new
customer's site should not wait for edits that may never come. Jobs that queued up behind
a run, or arrived together, let a burst of edits settle: they start once no new job came
for ``coalesce_settle`` seconds, at the latest ``coalesce_max_delay`` after the first one
or after their node became free, whichever is later. So a burst of edits makes at most two
runs of a node: its first change at once, the rest merged into one run after it.

Claiming is one transaction that inserts the run, its node lock rows (primary key: the
node) and moves the jobs from ``queued`` to ``running`` only if they still are: two
workers can never take the same job or the same node, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

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
         capacity: int, freed: Mapping[str, datetime] | None = None) -> list[list[Job]]:
    """Which queued jobs start now, grouped by run (pure: no database).

    ``freed``: when a node's last run ended, for runs that ended within the last
    ``coalesce_max_delay`` seconds (older ones change nothing here)."""
    freed = freed or {}
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
            if _settling(group, nodes, freed, now, cfg):
                blocked |= nodes
                continue
        taken.update(j.id for j in group)
        blocked |= nodes
        groups.append(group)
    return groups


def _settling(group: list[Job], nodes: set[str], freed: Mapping[str, datetime],
              now: datetime, cfg: JobsConfig) -> bool:
    """Whether a coalescing group waits for more edits (see the module's text)."""
    newest = max(j.created_at for j in group)
    oldest = min(j.created_at for j in group)
    last_free = max((freed[n] for n in nodes if n in freed), default=None)
    if len(group) == 1 and (last_free is None or last_free <= oldest):
        return False  # a lone change for a node that was free when it came
    since = oldest if last_free is None else max(oldest, last_free)
    return ((now - newest).total_seconds() < cfg.coalesce_settle
            and (now - since).total_seconds() < cfg.coalesce_max_delay)


def _recently_freed(s, now: datetime, cfg: JobsConfig) -> dict[str, datetime]:
    """When each node's last run ended, for runs that ended within coalesce_max_delay."""
    since = now - timedelta(seconds=cfg.coalesce_max_delay)
    freed: dict[str, datetime] = {}
    for nodes, finished in s.execute(select(JobRun.nodes, JobRun.finished_at)
                                     .where(JobRun.finished_at > since)):
        for n in nodes or ():
            if n not in freed or finished > freed[n]:
                freed[n] = finished
    return freed


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
            freed = (_recently_freed(s, now, cfg)
                     if any(j.kind in COALESCE_KINDS for j in queued) else {})
            for group in plan(queued, busy, now, cfg, capacity, freed):
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
