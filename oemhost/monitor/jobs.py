"""How the monitor hands work to the job engine (``oemhost.jobs``), behind a small interface.

Level-1 restarts and job-based level-2 reboots are jobs of the job engine: the monitor
submits them and later asks for their state. :class:`EngineJobs` is the real gateway
(``oemhost.jobs.submit`` / ``oemhost.jobs.get_job``); tests of the monitor's decisions may pass
another :class:`JobGateway`. When the job engine is not installed the gateway raises
:class:`~oemhost.errors.OemhostError` and the monitor records that remediation could not be
started (and escalates) instead of crashing the sweep.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.orm import Session

from oemhost.errors import OemhostError


class JobState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED,
                        JobState.UNKNOWN)


_STATUS_WORDS = {
    "queued": JobState.PENDING, "pending": JobState.PENDING, "new": JobState.PENDING,
    "waiting": JobState.PENDING, "starting": JobState.RUNNING, "running": JobState.RUNNING,
    "successful": JobState.SUCCEEDED, "succeeded": JobState.SUCCEEDED,
    "success": JobState.SUCCEEDED, "ok": JobState.SUCCEEDED, "done": JobState.SUCCEEDED,
    "failed": JobState.FAILED, "error": JobState.FAILED, "timeout": JobState.FAILED,
    "timed_out": JobState.FAILED, "lost": JobState.FAILED,
    "canceled": JobState.CANCELED, "cancelled": JobState.CANCELED,
}


def job_state_of(status: Any) -> JobState:
    word = str(getattr(status, "value", status)).lower()
    return _STATUS_WORDS.get(word, JobState.UNKNOWN)


class JobGateway(Protocol):
    def submit(self, session: Session, *, kind: str, playbook: str, nodes: Sequence[str],
               extravars: Mapping[str, Any], requested_by: str, reason: str) -> str: ...

    def state(self, session: Session, job_id: str) -> JobState: ...


class EngineJobs:
    """The job engine's API: ``oemhost.jobs.submit(session, ...)`` and
    ``oemhost.jobs.get_job(session, id).status`` (queued, running, succeeded, failed,
    cancelled)."""

    def __init__(self, settings=None):
        self.settings = settings

    def _module(self):
        try:
            return importlib.import_module("oemhost.jobs")
        except ImportError:
            raise OemhostError("the job engine (oemhost.jobs) is not installed") from None

    def submit(self, session: Session, *, kind: str, playbook: str, nodes: Sequence[str],
               extravars: Mapping[str, Any], requested_by: str, reason: str) -> str:
        extra = {"settings": self.settings} if self.settings is not None else {}
        job = self._module().submit(session, kind=kind, playbook=playbook, nodes=list(nodes),
                                    extravars=dict(extravars), requested_by=requested_by,
                                    reason=reason, **extra)
        return str(getattr(job, "id", job))

    def state(self, session: Session, job_id: str) -> JobState:
        jobs = self._module()
        getter = getattr(jobs, "get_job", None)
        if getter is None:
            raise OemhostError("oemhost.jobs has no get_job(session, job_id)")
        try:
            job = getter(session, int(job_id) if job_id.isdigit() else job_id)
        except OemhostError:
            return JobState.UNKNOWN
        if job is None:
            return JobState.UNKNOWN
        return job_state_of(getattr(job, "status", job))
