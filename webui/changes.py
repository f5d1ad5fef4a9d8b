"""Every change made in the panels or the API goes through :func:`apply`.

1. the store writes it (validation, plan limits, permission by actor, one git commit);
2. a job of the job engine applies it to the nodes (``inventory_commit`` = that commit);
3. the audit log records who did what, the commit and the job.

A refused change (ValidationError, ConflictError, NotFoundError, PermissionDenied) is
audited as ``refused`` and raised again for the view to show next to the fields; nothing
was written. If the job cannot be queued after the write (e.g. the worker's playbooks are
missing), the change stays recorded in the inventory and the caller gets
``Outcome.job_error`` to show: the next converge applies it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from oemhost import accounts
from oemhost.errors import OemhostError
from webui.context import client_ip, db, settings

log = logging.getLogger(__name__)

TENANT_PLAYBOOK = "tenant.yml"
REMOVE_PLAYBOOK = "remove_tenant.yml"


@dataclass(frozen=True)
class JobSpec:
    kind: str
    playbook: str
    nodes: list[str]
    tenant_scope: list[str] | None = None


@dataclass
class Outcome:
    commit: str | None = None
    job_id: int | None = None
    job_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def tenant_job(tenant, *, removal: bool = False) -> JobSpec:
    """Converge one tenant on its node (or tear it down)."""
    if removal:
        return JobSpec("remove", REMOVE_PLAYBOOK, [tenant.node], [tenant.id])
    return JobSpec("provision", TENANT_PLAYBOOK, [tenant.node], [tenant.id])


def tenants_job(tenants: Iterable) -> JobSpec | None:
    """Converge several tenants (e.g. after a plan change) on their nodes; None if none."""
    tenants = [t for t in tenants if t.status != "removed"]
    if not tenants:
        return None
    return JobSpec("provision", TENANT_PLAYBOOK, sorted({t.node for t in tenants}),
                   sorted({t.id for t in tenants}))


def apply(*, actor: str, action: str, target: str, write: Callable[[], str | None],
          job: JobSpec | Callable[[], JobSpec | None] | None = None, reason: str = "",
          reseller: str | None = None, tenant: str | None = None,
          detail: dict[str, Any] | None = None) -> Outcome:
    """Write through the store, queue the job, audit. See the module docstring."""
    session = db()
    try:
        commit = write()
    except OemhostError as exc:
        session.rollback()
        accounts.audit(session, actor=actor, action=action, target=target, reseller=reseller,
                       tenant=tenant, result="refused", detail=detail, message=str(exc)[:2000],
                       ip=client_ip())
        session.commit()
        raise
    outcome = Outcome(commit=commit)
    spec = job() if callable(job) else job
    if spec is not None:
        try:
            from oemhost import jobs

            queued = jobs.submit(session, kind=spec.kind, playbook=spec.playbook,
                                 nodes=spec.nodes, tenant_scope=spec.tenant_scope,
                                 requested_by=actor, reason=reason or f"{action} {target}",
                                 inventory_commit=commit, settings=settings())
            outcome.job_id = queued.id
        except (OemhostError, ImportError) as exc:
            session.rollback()
            outcome.job_error = str(exc)
            log.warning("change %s %s saved (commit %s) but no job queued: %s", action, target,
                        commit, exc)
    accounts.audit(session, actor=actor, action=action, target=target, reseller=reseller,
                   tenant=tenant, result="ok", detail=detail, ip=client_ip(),
                   inventory_commit=commit, job_id=outcome.job_id,
                   message=f"saved; not applied yet: {outcome.job_error}"
                   if outcome.job_error else "")
    session.commit()
    return outcome
