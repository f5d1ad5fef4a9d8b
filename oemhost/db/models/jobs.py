"""Jobs: what was asked (Job), what ran (JobRun), and what a run printed (JobEvent).

A *job* is one request ("converge tenant shop1 on node1", "restart postfix on node2").
A *run* is one ansible-playbook execution. Queued provisioning jobs of one node are
coalesced, so one run can serve several jobs (``Job.run_id``). Node locks are rows keyed
by node name: the primary key makes two runs on one node impossible, also across worker
processes. Workers register themselves with a heartbeat so that a dead worker's runs can
be recovered without a live worker's runs ever being taken away.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oemhost.db import Base
from oemhost.db.types import UTCDateTime, utcnow

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
JOB_FINISHED = ("succeeded", "failed", "cancelled")
RUN_STATUSES = ("running", "succeeded", "failed", "cancelled", "timeout", "interrupted")



def db_now():
    """The database server's clock (heartbeats: immune to clock skew between hosts)."""
    return func.now(type_=UTCDateTime())


class JobRun(Base):
    """One ansible-playbook execution by one worker."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    playbook: Mapped[str] = mapped_column(String(200))
    nodes: Mapped[list[str]] = mapped_column(JSON)
    tenant_scope: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    extravars: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), index=True, default="running")
    rc: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    host_results: Mapped[dict[str, dict[str, int]] | None] = mapped_column(JSON, nullable=True)
    timeout_s: Mapped[int] = mapped_column(Integer)
    private_data_dir: Mapped[str] = mapped_column(String(500))
    # the ansible-playbook process (pid + start time), so that recovery on the same host
    # can make sure an orphan is gone before the node is given to another run
    ansible_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ansible_start: Mapped[str | None] = mapped_column(String(40), nullable=True)
    events_stored: Mapped[int] = mapped_column(Integer, default=0)
    events_dropped: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_requested_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    artifacts_pruned: Mapped[bool] = mapped_column(default=False)

    jobs: Mapped[list[Job]] = relationship(back_populates="run", order_by="Job.id")

    @property
    def finished(self) -> bool:
        return self.status != "running"


class Job(Base):
    """One request to apply something to nodes; served by one run (or none if cancelled)."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    playbook: Mapped[str] = mapped_column(String(200))
    nodes: Mapped[list[str]] = mapped_column(JSON)
    tenant_scope: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    extravars: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    requested_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    inventory_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # submit | retry (asked by a user) | recovery (re-queued once after an interruption)
    origin: Mapped[str] = mapped_column(String(20), default="submit")
    retry_of: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"),
                                                 nullable=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("job_runs.id", ondelete="SET NULL"),
                                               nullable=True, index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # the queue order within a priority; a recovered job keeps its original place
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_requested_by: Mapped[str | None] = mapped_column(String(200), nullable=True)

    run: Mapped[JobRun | None] = relationship(back_populates="jobs")
    subjects: Mapped[list[JobSubject]] = relationship(cascade="all, delete-orphan",
                                                      passive_deletes=True)

    __table_args__ = (Index("ix_jobs_queue", "status", "priority", "queued_at"),)

    @property
    def finished(self) -> bool:
        return self.status in JOB_FINISHED

    @property
    def host_results(self) -> dict[str, dict[str, int]] | None:
        return self.run.host_results if self.run is not None else None

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.playbook} {self.nodes} {self.status}>"


class JobSubject(Base):
    """What a job touches (its nodes, its tenants), for filtering the job list in SQL."""

    __tablename__ = "job_subjects"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                        primary_key=True)
    type: Mapped[str] = mapped_column(String(10), primary_key=True)  # node | tenant
    name: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_job_subjects_name", "type", "name"),)


class JobEvent(Base):
    """A sanitized, size-bounded ansible-runner event of a run (no module args, no no_log data)."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("job_runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    event: Mapped[str] = mapped_column(String(40))
    play: Mapped[str | None] = mapped_column(String(300), nullable=True)
    task: Mapped[str | None] = mapped_column(String(300), nullable=True)
    host: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # ok | changed | failed | ignored | unreachable | skipped | recap | None
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    stdout: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_job_events_run_seq"),)


class JobNodeLock(Base):
    """A node held by a running run: at most one row per node, ever."""

    __tablename__ = "job_node_locks"

    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("job_runs.id", ondelete="CASCADE"),
                                        index=True)
    worker_id: Mapped[str] = mapped_column(String(120))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobWorker(Base):
    """A worker process; alive while its heartbeat is fresh (or its pid runs, same host)."""

    __tablename__ = "job_workers"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    boot_id: Mapped[str] = mapped_column(String(64), default="")
    pid: Mapped[int] = mapped_column(Integer)
    proc_start: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(20), default="alive")  # alive|stopped|dead
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class JobLease(Base):
    """A named singleton held by one live worker (the APScheduler host: ``scheduler``)."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(120))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
