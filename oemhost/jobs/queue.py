"""The queue as the panels, the monitor and the CLI see it: submit, look, cancel, retry.

Every function works in the caller's SQLAlchemy session and only flushes: the caller
commits (together with its own changes, e.g. the audit log). A job is visible to the
worker once that commit is done.

Nothing a user typed ever reaches Ansible: node names, tenant ids, tags and extra vars
are checked against strict id patterns (extra vars end up on the ``ansible-playbook``
command line, are templated by Ansible and are visible in ``ps``); ``requested_by`` and
``reason`` are stored in the database only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from oemhost.db.models.jobs import (
    JOB_FINISHED,
    JOB_STATUSES,
    Job,
    JobEvent,
    JobRun,
    JobSubject,
    utcnow,
)
from oemhost.errors import ConflictError, NotFoundError, OemhostError, ValidationError
from oemhost.jobs.config import DEFAULT_PRIORITY, KINDS
from oemhost.jobs.inventory import NODE_RE, node_names

TENANT_RE = re.compile(r"^[a-z][a-z0-9]{2,15}$")
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
PLAYBOOK_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,60}\.ya?ml$")
COMMIT_RE = re.compile(r"^[0-9a-f]{7,64}$")
EXTRAVAR_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# ids, node and tenant names, domains (punycode), mail addresses: nothing Jinja, YAML or a
# shell could read as syntax
EXTRAVAR_VALUE_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,252}$")
RESERVED_EXTRAVARS = ("oemhost_tenant_scope",)
MAX_NODES = 200
MAX_SCOPE = 5000
MAX_LIST = 500


def _check_extravar_value(value: Any) -> bool:
    if isinstance(value, bool | int):
        return True
    return isinstance(value, str) and bool(EXTRAVAR_VALUE_RE.match(value))


def validate_request(settings, *, kind: str, playbook: str, nodes: Sequence[str],
                     tenant_scope: Sequence[str] | None, tags: Iterable[str],
                     extravars: Mapping[str, Any] | None, requested_by: str, reason: str,
                     inventory_commit: str | None, priority: int | None) -> dict[str, Any]:
    """Check a job request; return its normalized fields or raise ValidationError."""
    errors: dict[str, str] = {}
    if kind not in KINDS:
        errors["kind"] = f"unknown kind {kind!r} (one of {', '.join(KINDS)})"
    if not isinstance(playbook, str) or not PLAYBOOK_RE.match(playbook):
        errors["playbook"] = f"invalid playbook name {playbook!r}"
    elif not (settings.playbooks_dir / playbook).is_file():
        errors["playbook"] = f"unknown playbook {playbook} (not in {settings.playbooks_dir})"

    norm_nodes: list[str] = []
    if isinstance(nodes, str) or not isinstance(nodes, Sequence) or not nodes:
        errors["nodes"] = "a non-empty list of node names"
    elif len(nodes) > MAX_NODES:
        errors["nodes"] = f"at most {MAX_NODES} nodes per job"
    else:
        bad = [n for n in nodes if not isinstance(n, str) or not NODE_RE.match(n)]
        if bad:
            errors["nodes"] = f"invalid node name {bad[0]!r}"
        else:
            known = node_names(settings)
            unknown = sorted(set(nodes) - known)
            if unknown:
                errors["nodes"] = (f"unknown node {unknown[0]} (not in the inventory "
                                   f"{settings.inventory_dir})")
            norm_nodes = sorted(set(nodes))

    scope: list[str] | None = None
    if tenant_scope is not None:
        if isinstance(tenant_scope, str) or not isinstance(tenant_scope, Sequence):
            errors["tenant_scope"] = "a list of tenant ids, or None for the whole node"
        elif not tenant_scope:
            errors["tenant_scope"] = "empty; pass None to converge the whole node"
        elif len(tenant_scope) > MAX_SCOPE:
            errors["tenant_scope"] = f"at most {MAX_SCOPE} tenants"
        else:
            bad = [t for t in tenant_scope if not isinstance(t, str) or not TENANT_RE.match(t)]
            if bad:
                errors["tenant_scope"] = f"invalid tenant id {bad[0]!r}"
            scope = sorted(set(tenant_scope))

    if isinstance(tags, str):
        tags = [tags]
    norm_tags = sorted(set(tags))
    bad = [t for t in norm_tags if not isinstance(t, str) or not TAG_RE.match(t)]
    if bad:
        errors["tags"] = f"invalid tag {bad[0]!r}"

    norm_vars: dict[str, Any] = {}
    for key, value in (extravars or {}).items():
        field = f"extravars.{key}"
        if not isinstance(key, str) or not EXTRAVAR_KEY_RE.match(key):
            errors["extravars"] = f"invalid extra var name {key!r}"
        elif key in RESERVED_EXTRAVARS or key.startswith("ansible_"):
            errors[field] = "reserved name (use tenant_scope= for the tenant scope)"
        elif isinstance(value, list):
            if len(value) > MAX_LIST or not all(_check_extravar_value(v) for v in value):
                errors[field] = "only ids (lowercase letters, digits, . _ @ -) are allowed"
            else:
                norm_vars[key] = list(value)
        elif not _check_extravar_value(value):
            errors[field] = "only ids (lowercase letters, digits, . _ @ -) are allowed"
        else:
            norm_vars[key] = value

    if not isinstance(requested_by, str) or not requested_by.strip():
        errors["requested_by"] = "who asks for the job is required"
    elif len(requested_by) > 200:
        errors["requested_by"] = "at most 200 characters"
    if not isinstance(reason, str) or len(reason) > 2000:
        errors["reason"] = "text of at most 2000 characters"
    if inventory_commit is not None and (not isinstance(inventory_commit, str)
                                         or not COMMIT_RE.match(inventory_commit)):
        errors["inventory_commit"] = "a git commit id (hex)"
    if priority is None:
        priority = DEFAULT_PRIORITY.get(kind, 50)
    elif isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
        errors["priority"] = "an integer from 0 to 1000"
    if errors:
        raise ValidationError(errors, subject="job refused")
    return {"kind": kind, "playbook": playbook, "nodes": norm_nodes, "tenant_scope": scope,
            "tags": norm_tags, "extravars": norm_vars, "requested_by": requested_by.strip(),
            "reason": reason, "inventory_commit": inventory_commit, "priority": priority}


def _new_job(fields: dict[str, Any], *, origin: str = "submit", retry_of: int | None = None,
             queued_at: datetime | None = None) -> Job:
    now = utcnow()
    job = Job(**fields, status="queued", origin=origin, retry_of=retry_of, created_at=now,
              queued_at=queued_at or now)
    job.subjects = [JobSubject(type="node", name=n) for n in fields["nodes"]]
    job.subjects += [JobSubject(type="tenant", name=t) for t in fields["tenant_scope"] or ()]
    return job


def submit(session: Session, *, kind: str, playbook: str, nodes: Sequence[str],
           tenant_scope: Sequence[str] | None = None, tags: Iterable[str] = (),
           extravars: Mapping[str, Any] | None = None, requested_by: str, reason: str = "",
           inventory_commit: str | None = None, priority: int | None = None,
           settings=None) -> Job:
    """Queue a job; raise ValidationError (and add nothing) on bad input.

    ``tenant_scope``: converge only these tenants (passed to the playbook as
    ``oemhost_tenant_scope``); None converges the whole node. Queued provisioning jobs of
    one node are merged into one run. ``priority`` defaults by kind (see ``config``).
    """
    if settings is None:
        from oemhost.config import load_settings

        settings = load_settings()
    fields = validate_request(settings, kind=kind, playbook=playbook, nodes=nodes,
                              tenant_scope=tenant_scope, tags=tags, extravars=extravars,
                              requested_by=requested_by, reason=reason,
                              inventory_commit=inventory_commit, priority=priority)
    job = _new_job(fields)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id, options=[selectinload(Job.run)])
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    return job


def get_run(session: Session, run_id: int) -> JobRun:
    run = session.get(JobRun, run_id, options=[selectinload(JobRun.jobs)])
    if run is None:
        raise NotFoundError(f"run {run_id} not found")
    return run


@dataclass(frozen=True)
class JobFilter:
    status: str | Sequence[str] | None = None
    kind: str | Sequence[str] | None = None
    node: str | None = None
    tenant: str | Sequence[str] | None = None
    requested_by: str | None = None
    run_id: int | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class JobPage:
    items: list[Job]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def list_jobs(session: Session, filters: JobFilter | Mapping[str, Any] | None = None,
              page: int = 1, per_page: int = 50) -> JobPage:
    """Jobs, newest first, filtered by status, kind, node, tenant(s), requester, run, age."""
    if filters is None:
        filters = JobFilter()
    elif isinstance(filters, Mapping):
        try:
            filters = JobFilter(**filters)
        except TypeError as exc:
            raise ValidationError(f"unknown filter: {exc}") from None
    if page < 1 or not 1 <= per_page <= 1000:
        raise ValidationError("page from 1, per_page from 1 to 1000")
    q = select(Job)
    if filters.status:
        statuses = _as_list(filters.status)
        bad = [s for s in statuses if s not in JOB_STATUSES]
        if bad:
            raise ValidationError({"status": f"unknown status {bad[0]!r}"})
        q = q.where(Job.status.in_(statuses))
    if filters.kind:
        q = q.where(Job.kind.in_(_as_list(filters.kind)))
    if filters.node:
        q = q.where(Job.subjects.any((JobSubject.type == "node")
                                     & (JobSubject.name == filters.node)))
    if filters.tenant:
        q = q.where(Job.subjects.any((JobSubject.type == "tenant")
                                     & JobSubject.name.in_(_as_list(filters.tenant))))
    if filters.requested_by:
        q = q.where(Job.requested_by == filters.requested_by)
    if filters.run_id is not None:
        q = q.where(Job.run_id == filters.run_id)
    if filters.since is not None:
        q = q.where(Job.created_at >= filters.since)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    items = session.scalars(q.options(selectinload(Job.run)).order_by(Job.id.desc())
                            .offset((page - 1) * per_page).limit(per_page)).all()
    return JobPage(items=list(items), total=total, page=page, per_page=per_page)


def cancel(session: Session, job_id: int, *, requested_by: str) -> Job:
    """Cancel a queued job at once, or ask the worker to stop the run serving it.

    A run can serve several coalesced jobs: stopping it cancels all of them (each says by
    whom). Cancelling a finished job is a ConflictError.
    """
    if not isinstance(requested_by, str) or not requested_by.strip():
        raise ValidationError({"requested_by": "who cancels is required"})
    now = utcnow()
    # conditional: the worker may claim the job at this very moment
    res = session.execute(
        update(Job).where(Job.id == job_id, Job.status == "queued")
        .values(status="cancelled", finished_at=now, cancel_requested_by=requested_by,
                error=f"cancelled by {requested_by} before it started")
        .execution_options(synchronize_session=False))
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    if res.rowcount == 1:
        return job
    if job.status == "running" and job.run_id is not None:
        job.cancel_requested_by = requested_by
        session.execute(
            update(JobRun).where(JobRun.id == job.run_id, JobRun.status == "running",
                                 JobRun.cancel_requested_at.is_(None))
            .values(cancel_requested_at=now, cancel_requested_by=requested_by)
            .execution_options(synchronize_session=False))
        session.flush()
        return job
    raise ConflictError(f"job {job_id} is already {job.status}")


def retry(session: Session, job_id: int, *, requested_by: str, reason: str = "",
          settings=None) -> Job:
    """Queue a new job doing what a failed or cancelled one asked (checked again)."""
    old = get_job(session, job_id)
    if old.status not in ("failed", "cancelled"):
        raise ConflictError(f"job {job_id} is {old.status}: only failed or cancelled jobs "
                            "can be retried")
    if settings is None:
        from oemhost.config import load_settings

        settings = load_settings()
    fields = validate_request(settings, kind=old.kind, playbook=old.playbook, nodes=old.nodes,
                              tenant_scope=old.tenant_scope, tags=old.tags,
                              extravars=old.extravars, requested_by=requested_by,
                              reason=reason or f"retry of job {old.id}",
                              inventory_commit=old.inventory_commit, priority=old.priority)
    job = _new_job(fields, origin="retry", retry_of=old.id)
    session.add(job)
    session.flush()
    return job


def events_since(session: Session, job_id: int, after_seq: int = 0,
                 limit: int = 500) -> list[JobEvent]:
    """The stored events of the run serving ``job_id`` with ``seq > after_seq``, in order."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    if job.run_id is None:
        return []
    return list(session.scalars(
        select(JobEvent).where(JobEvent.run_id == job.run_id, JobEvent.seq > after_seq)
        .order_by(JobEvent.seq).limit(limit)))


def wait(session: Session, job_id: int, timeout: float | None = None,
         poll: float = 0.2) -> Job:
    """Block until the job is finished; commits the session first (so the worker sees it).

    Raises OemhostError when ``timeout`` seconds pass first.
    """
    session.commit()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        session.expire_all()
        job = get_job(session, job_id)
        if job.status in JOB_FINISHED:
            return job
        session.rollback()  # end the read transaction: see the worker's next commit
        if deadline is not None and time.monotonic() >= deadline:
            raise OemhostError(f"job {job_id} still {job.status} after {timeout:g} s")
        time.sleep(poll)


def follow(factory, job_id: int, after_seq: int = 0, *, poll: float = 0.5,
           timeout: float | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """Progress of a job for Server-Sent Events or long polling: yields
    ``("event", event_as_dict(...))`` as events are stored and ends with
    ``("status", job_as_dict(job))`` once the job is finished and all its events were
    sent. A job that was coalesced into a run shows that run's events. Each pass uses a
    short session of ``factory`` (no connection is held between polls)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with factory() as session:
            events = events_since(session, job_id, after_seq, limit=1000)
            job = get_job(session, job_id)
            finished = job.finished
            view = job_as_dict(job)
        for ev in events:
            after_seq = ev.seq
            yield "event", event_as_dict(ev)
        if finished and not events:
            yield "status", view
            return
        if deadline is not None and time.monotonic() >= deadline:
            yield "status", view
            return
        if not events:
            time.sleep(poll)


def job_as_dict(job: Job) -> dict[str, Any]:
    """A JSON-ready view of a job for APIs and the CLI."""
    def ts(v: datetime | None) -> str | None:
        return v.isoformat() if v else None

    return {
        "id": job.id, "kind": job.kind, "playbook": job.playbook, "nodes": job.nodes,
        "tenant_scope": job.tenant_scope, "tags": job.tags, "extravars": job.extravars,
        "priority": job.priority, "status": job.status, "requested_by": job.requested_by,
        "reason": job.reason, "inventory_commit": job.inventory_commit, "origin": job.origin,
        "retry_of": job.retry_of, "run_id": job.run_id, "error": job.error,
        "created_at": ts(job.created_at), "started_at": ts(job.started_at),
        "finished_at": ts(job.finished_at), "host_results": job.host_results,
    }


def event_as_dict(ev: JobEvent) -> dict[str, Any]:
    return {"seq": ev.seq, "created_at": ev.created_at.isoformat(), "event": ev.event,
            "play": ev.play, "task": ev.task, "host": ev.host, "status": ev.status,
            "stdout": ev.stdout, "data": ev.data}
