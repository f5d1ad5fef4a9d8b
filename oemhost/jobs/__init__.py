"""Jobs: every change to a node is applied by an ansible-runner job.

The panels, the monitor and the CLI use this API (each function works in the caller's
SQLAlchemy session; the caller commits)::

    from oemhost import jobs

    job = jobs.submit(session, kind="provision", playbook="tenant.yml", nodes=["node1"],
                      tenant_scope=["shop1"], requested_by="reseller:acme/alice",
                      reason="new mailbox", inventory_commit=sha)
    session.commit()
    jobs.events_since(session, job.id, after_seq=0)  # progress for polling / SSE
    jobs.cancel(session, job.id, requested_by="ops:bob")
    jobs.retry(session, job.id, requested_by="ops:bob")
    jobs.wait(session, job.id, timeout=600)  # tests and the CLI

The worker (``oemhost worker``, :mod:`oemhost.jobs.worker`) runs them. See docs/JOBS.md.
"""

from oemhost.db.models.jobs import Job, JobEvent, JobRun
from oemhost.jobs.config import COALESCE_KINDS, DEFAULT_PRIORITY, KINDS, JobsConfig
from oemhost.jobs.queue import (
    JobFilter,
    JobPage,
    cancel,
    event_as_dict,
    events_since,
    get_job,
    get_run,
    job_as_dict,
    list_jobs,
    retry,
    submit,
    wait,
)

__all__ = [
    "COALESCE_KINDS", "DEFAULT_PRIORITY", "KINDS", "Job", "JobEvent", "JobFilter", "JobPage",
    "JobRun", "JobsConfig", "cancel", "event_as_dict", "events_since", "get_job", "get_run",
    "job_as_dict", "list_jobs", "retry", "submit", "wait",
]
