"""Mass mail: lock a sender over its sending limit, tell its reseller, keep the record.

The mail role counts every recipient a mailbox sends (policyd-rate-limit) and defers the
next one at the plan's limit; ``library/oemhost_mail_rate.py`` reads the counts. Every
``mail_rate_interval`` seconds the monitor submits a low-priority ``mail_rate`` job per
mail node (``playbooks/mail_rate.yml``), which hands the reading back through the job's
results directory (:mod:`oemhost.jobs.results`, handler ``mail_rate``). For each sender
over a limit, :func:`handle_results`:

1. finds its mailbox in the inventory (``Store.find_mailbox``); a mailbox already locked
   is left alone: one lock, one job, one mail per lock;
2. locks it in the store (``Store.lock_mailbox``, actor ``monitor``, the counts as reason)
   and submits ``playbooks/mail_lock.yml`` (kind ``mail_lock``) for that mailbox only:
   the other mailboxes keep sending;
3. records it in the node's ``mass_mail`` incident (:mod:`oemhost.monitor.external`):
   ``detected``/``check_failed``, ``sender_locked``, ``notice_sent``/``notice_failed``;
   the incident is resolved at once (the lock is the remedy; ops unlock by hand);
4. mails the tenant's reseller (its ``contacts``, in its ``locale``; template
   ``mail_locked``).

Sender addresses come from a node: they are validated by the store (an address no tenant
has is logged and skipped) and reach the job only as an id-shaped extra var.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from oemhost.config import Settings
from oemhost.db import session_scope
from oemhost.errors import NotFoundError, OemhostError, ValidationError
from oemhost.monitor import db as monitor_db
from oemhost.monitor.config import load_monitor_config
from oemhost.monitor.external import open_external_incident, resolve_external_incident
from oemhost.monitor.incidents import add_event, open_incidents
from oemhost.monitor.inventory import load_nodes, load_resellers
from oemhost.monitor.jobs import EngineJobs, JobGateway
from oemhost.notify import Mailer, render

log = logging.getLogger(__name__)

SERVICE = "mass_mail"
RATE_PLAYBOOK = "mail_rate.yml"
LOCK_PLAYBOOK = "mail_lock.yml"


def submit_mail_rate(settings: Settings, *, jobs: JobGateway | None = None,
                     sessions=None) -> list[str]:
    """Queue one ``mail_rate`` job per mail node (what the scheduler runs); job ids."""
    cfg = load_monitor_config(settings)
    jobs = jobs or EngineJobs(settings)
    sessions = sessions or monitor_db.sessions(settings)
    since = int(max(cfg.mail_rate_interval * 2, 900))
    ids = []
    with session_scope(sessions) as session:
        for node in load_nodes(settings.inventory_dir):
            if "mail" not in node.services:
                continue
            try:
                ids.append(jobs.submit(session, kind="mail_rate", playbook=RATE_PLAYBOOK,
                                       nodes=[node.name],
                                       extravars={"oemhost_mail_rate_since": since},
                                       requested_by="monitor", reason="mass-mail watch"))
            except OemhostError as exc:
                log.warning("monitor: mail_rate job for %s not submitted: %s", node.name, exc)
    return ids


def _reason(sender: Mapping[str, Any]) -> str:
    over = [w for w in sender.get("windows", []) if w.get("over")]
    names = {3600: "hour", 86400: "day"}
    parts = [f"{int(w['sent'])}/{int(w['limit'])} per "
             f"{names.get(int(w['seconds']), str(int(w['seconds'])) + ' s')}"
             for w in over if all(k in w for k in ("sent", "limit", "seconds"))]
    return "mass mail: " + (", ".join(parts) if parts else "over the sending limit")


def handle_results(settings: Settings, run, files: list[Path]) -> None:
    """The ``mail_rate`` result handler (registered in ``oemhost.jobs.results``)."""
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            node = str(data["node"])
            over = [str(a) for a in data.get("over_limit", [])]
            senders = {str(s.get("sender")): s for s in data.get("senders", [])
                       if isinstance(s, dict)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("mail_rate: unreadable result %s: %s", path.name, exc)
            continue
        if node not in run.nodes:
            log.warning("mail_rate: result for %s from a run on %s ignored", node, run.nodes)
            continue
        if over:
            lock_senders(settings, node, over, senders)


def lock_senders(settings: Settings, node: str, addresses: Iterable[str],
                 details: Mapping[str, Mapping[str, Any]] | None = None, *,
                 jobs: JobGateway | None = None, sessions=None,
                 mailer_factory: Callable[[], Mailer] | None = None,
                 now: datetime | None = None) -> list[str]:
    """Lock every sender of ``addresses`` (on ``node``) not locked yet; the ones locked now."""
    from oemhost.store import Store

    details = details or {}
    store = Store(settings.inventory_dir)
    jobs = jobs or EngineJobs(settings)
    sessions = sessions or monitor_db.sessions(settings)
    mailer_factory = mailer_factory or (lambda: Mailer.from_settings(settings))
    resellers = load_resellers(settings.inventory_dir)
    provider = str(settings.section("smtp").get("from_name", ""))
    tz = load_monitor_config(settings).business.timezone
    locked_now = []
    for address in dict.fromkeys(addresses):
        now_ = now or datetime.now(UTC)
        try:
            tenant_id, box = store.find_mailbox(address, node=node)
        except (NotFoundError, ValidationError) as exc:
            log.warning("mail_rate: %s on %s over its limit, but %s", address[:100], node, exc)
            continue
        if box.locked is not None:
            continue                                  # once per lock
        reason = _reason(details.get(address, {}))
        try:
            store.lock_mailbox(tenant_id, box.address, reason, actor="monitor")
        except OemhostError as exc:
            log.error("mail_rate: could not lock %s: %s", box.address, exc)
            continue
        locked_now.append(box.address)
        tenant = store.get_tenant(tenant_id)
        with session_scope(sessions) as session:
            job_id = None
            try:
                job_id = jobs.submit(session, kind="mail_lock", playbook=LOCK_PLAYBOOK,
                                     nodes=[node],
                                     extravars={"oemhost_tenant": tenant_id,
                                                "oemhost_mailbox": box.address},
                                     requested_by="monitor", reason=reason)
            except OemhostError as exc:
                log.error("mail_rate: mail_lock job for %s not submitted: %s", box.address, exc)
            open_external_incident(
                session, node, SERVICE, f"{box.address} ({tenant_id}): {reason}", now=now_,
                sender=box.address, tenant=tenant_id)
            incident = open_incidents(session, [node])[(node, SERVICE)]
            add_event(session, incident, "sender_locked",
                      f"{box.address} locked (job {job_id or 'not submitted'})", now_,
                      sender=box.address, tenant=tenant_id, job=job_id, reason=reason)
            session.commit()
            reseller = resellers.get(tenant.reseller)
            _tell_reseller(session, incident, mailer_factory, reseller, provider, tz,
                           tenant_id=tenant_id, address=box.address, node=node,
                           reason=reason, at=now_)
            resolve_external_incident(session, node, SERVICE,
                                      f"{box.address} locked; other mailboxes keep sending",
                                      settings=settings, now=now_)
        log.info("mail_rate: locked %s (%s) on %s: %s", box.address, tenant_id, node, reason)
    return locked_now


def _tell_reseller(session: Session, incident, mailer_factory, reseller, provider: str,
                   tz: str, **info) -> None:
    if reseller is None or not reseller.contacts:
        add_event(session, incident, "notice_failed", "reseller has no contacts",
                  info["at"], audience="reseller", sender=info["address"])
        return
    subject, body = render("mail_locked", reseller.locale, tz=tz, reseller=reseller.company,
                           provider=provider or reseller.company, incident=incident.id,
                           **info)
    try:
        mailer = mailer_factory()
        sent = mailer.send(mailer.compose(list(reseller.contacts), subject, body))
    except OemhostError as exc:
        add_event(session, incident, "notice_failed", f"mail to {reseller.id}: {exc}",
                  info["at"], audience=f"reseller:{reseller.id}", sender=info["address"])
        return
    add_event(session, incident, "notice_sent",
              f"lock notice to reseller {reseller.id} ({', '.join(reseller.contacts)})",
              info["at"], audience=f"reseller:{reseller.id}", sender=info["address"],
              message_id=getattr(sent, "message_id", None))
