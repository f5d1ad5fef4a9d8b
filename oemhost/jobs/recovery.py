"""Workers, their liveness, and the recovery of runs whose worker died.

A worker is **dead** when:

- it runs on this host (same host name and boot id) and its process (pid + start time) is
  gone; or its process exists but has not refreshed its heartbeat for ``stale_after``
  seconds (hung): it is then killed first, so that it cannot come back;
- it runs on another host and its heartbeat is older than ``stale_after``. A live worker
  refreshes it every ``heartbeat_interval`` and stops its own runs (fences itself) when it
  could not for ``stale_after / 2``, so a live worker's runs are never taken over.

Recovering a dead worker's run: make sure its ansible-playbook is gone (same host: SIGTERM,
then SIGKILL; the ``oemhost_watchdog`` callback ends it anyway when its worker dies), mark
the run ``interrupted``, its jobs ``failed`` ("interrupted"), release its node locks and
queue each job again **once** (``origin="recovery"``; a recovered job that is interrupted
again is not re-queued). All of it in one transaction.
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from oemhost.db.models.jobs import (
    Job,
    JobLease,
    JobNodeLock,
    JobRun,
    JobSubject,
    JobWorker,
    db_now,
    utcnow,
)
from oemhost.jobs import procs
from oemhost.jobs.config import JobsConfig
from oemhost.jobs.runner import keep_only_scrubbed_artifacts

log = logging.getLogger("oemhost.jobs")


@dataclass(frozen=True)
class Identity:
    hostname: str
    boot_id: str
    pid: int
    proc_start: str

    @classmethod
    def current(cls) -> Identity:
        pid = os.getpid()
        return cls(procs.hostname(), procs.boot_id(), pid, procs.proc_start(pid) or "")

    def same_host(self, w: JobWorker) -> bool:
        return bool(self.boot_id) and w.hostname == self.hostname and w.boot_id == self.boot_id


def dead_reason(w: JobWorker, me: Identity, now: datetime, cfg: JobsConfig) -> str | None:
    """Why worker ``w`` counts as dead, or None while it is alive."""
    if w.status != "alive":
        return f"worker {w.status}"
    stale = (now - w.heartbeat_at).total_seconds() > cfg.stale_after
    if me.same_host(w):
        if not procs.is_running(w.pid, w.proc_start):
            return "its process is gone"
        if stale:
            return "hung (no heartbeat)"
        return None
    if stale:
        return f"no heartbeat for more than {cfg.stale_after:g} s"
    return None


def requeue_once(session: Session, job: Job, why: str) -> Job | None:
    """Queue a failed job's request again unless it is itself a re-queued one."""
    if job.origin == "recovery":
        return None
    new = Job(kind=job.kind, playbook=job.playbook, nodes=list(job.nodes),
              tenant_scope=list(job.tenant_scope) if job.tenant_scope is not None else None,
              tags=list(job.tags), extravars=dict(job.extravars), priority=job.priority,
              status="queued", requested_by=job.requested_by,
              reason=f"re-queued after job {job.id} was {why}", origin="recovery",
              inventory_commit=job.inventory_commit, retry_of=job.id,
              created_at=utcnow(), queued_at=job.queued_at)
    new.subjects = [JobSubject(type="node", name=n) for n in new.nodes]
    new.subjects += [JobSubject(type="tenant", name=t) for t in new.tenant_scope or ()]
    session.add(new)
    return new


def close_run(session: Session, run: JobRun, *, status: str, error: str | None,
              rc: int | None = None, host_results=None, events_dropped: int = 0,
              now: datetime | None = None) -> list[Job]:
    """Finish ``run`` and the jobs it served, release its nodes; interrupted jobs are
    re-queued once. The caller has checked that the run is still ``running``."""
    now = now or utcnow()
    run.status, run.error, run.rc, run.finished_at = status, error, rc, now
    if host_results is not None:
        run.host_results = host_results
    run.events_dropped = events_dropped
    job_status = {"succeeded": "succeeded", "cancelled": "cancelled"}.get(status, "failed")
    requeued = []
    for job in session.scalars(select(Job).where(Job.run_id == run.id,
                                                 Job.status == "running")):
        job.status, job.finished_at = job_status, now
        job.error = error
        if status == "interrupted":
            new = requeue_once(session, job, "interrupted")
            if new is not None:
                requeued.append(new)
    session.execute(delete(JobNodeLock).where(JobNodeLock.run_id == run.id))
    return requeued


def recover(factory, me_id: str, me: Identity, cfg: JobsConfig) -> list[int]:
    """Mark dead workers dead and recover their runs; return the recovered run ids."""
    with factory() as s:
        now = s.scalar(select(db_now()))
        workers = s.scalars(select(JobWorker).where(JobWorker.status == "alive",
                                                    JobWorker.id != me_id)).all()
        dead = {w.id: (w, reason) for w in workers
                if (reason := dead_reason(w, me, now, cfg)) is not None}
        alive_ids = {w.id for w in workers if w.id not in dead} | {me_id}
        runs = s.scalars(select(JobRun).where(JobRun.status == "running")).all()
        orphan_runs = [r for r in runs if r.worker_id not in alive_ids]
        hosts = {w.id: w for w in s.scalars(select(JobWorker).where(
            JobWorker.id.in_({r.worker_id for r in orphan_runs})))}
    # outside any transaction: stop what is left of the dead on this host
    for wid, (w, reason) in dead.items():
        if me.same_host(w) and reason.startswith("hung") \
                and procs.is_running(w.pid, w.proc_start):
            if w.pid == os.getpid():  # a sibling worker in this process (tests)
                continue
            log.warning("worker %s is hung: killing pid %s", wid, w.pid)
            try:
                os.kill(w.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for r in orphan_runs:
        w = hosts.get(r.worker_id)
        if w is not None and me.same_host(w) and r.ansible_pid:
            if not procs.terminate(r.ansible_pid, r.ansible_start):
                log.error("run %s: ansible-playbook pid %s does not stop; not recovering yet",
                          r.id, r.ansible_pid)
                orphan_runs = [o for o in orphan_runs if o.id != r.id]
    recovered = []
    with factory() as s, s.begin():
        s.execute(update(JobWorker).where(JobWorker.id == me_id)
                  .values(heartbeat_at=db_now()))  # write first: SQLite's write lock now
        for wid, (_w, reason) in dead.items():
            res = s.execute(update(JobWorker).where(JobWorker.id == wid,
                                                    JobWorker.status == "alive")
                            .values(status="dead", stopped_at=now))
            if res.rowcount:
                log.warning("worker %s is dead (%s)", wid, reason)
        for r in orphan_runs:
            run = s.get(JobRun, r.id)
            if run is None or run.status != "running" or run.worker_id in alive_ids:
                continue
            why = dead[run.worker_id][1] if run.worker_id in dead else "worker gone"
            new = close_run(s, run, status="interrupted",
                            error=f"interrupted: worker {run.worker_id} died ({why})", now=now)
            log.warning("run %s interrupted (worker %s died); re-queued jobs %s", run.id,
                        run.worker_id, [j.id for j in new] if new else "none")
            recovered.append(run.id)
        # locks whose run is over (cannot happen through close_run; cheap to check)
        s.execute(delete(JobNodeLock).where(JobNodeLock.run_id.in_(
            select(JobRun.id).where(JobRun.status != "running"))))
    for r in orphan_runs:
        if r.id in recovered and r.private_data_dir:
            keep_only_scrubbed_artifacts(Path(r.private_data_dir))
    return recovered


def hold_lease(factory, name: str, me_id: str) -> bool:
    """Take or keep the named lease; True while this worker holds it. A lease held by a
    worker that is no longer alive passes to the first live worker asking for it."""
    with factory() as s, s.begin():
        s.execute(update(JobWorker).where(JobWorker.id == me_id)
                  .values(heartbeat_at=db_now()))
        lease = s.get(JobLease, name)
        if lease is None:
            s.add(JobLease(name=name, worker_id=me_id))
            return True
        if lease.worker_id == me_id:
            return True
        holder = s.get(JobWorker, lease.worker_id)
        if holder is None or holder.status != "alive":
            res = s.execute(update(JobLease).where(JobLease.name == name,
                                                   JobLease.worker_id == lease.worker_id)
                            .values(worker_id=me_id, acquired_at=utcnow()))
            return res.rowcount == 1
        return False


def release_leases(session: Session, me_id: str) -> None:
    session.execute(delete(JobLease).where(JobLease.worker_id == me_id))
