"""Failure notices (10 minutes of outage, once per incident) and failure reports.

Audiences: provider ops (``[monitor] ops_contacts``, ``ops_language``) and every reseller
concerned by the node (its owner, and resellers with tenants on it), each to its
``contacts`` in its ``locale``. One mail per audience per incident and kind: a unique
index on (incident, kind, audience) makes "once" a database fact. A mail the relay
refused is retried on later runs (at most ``MAX_ATTEMPTS``), never duplicated once sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from oemhost.db.models.monitor import MonitorIncident, MonitorNotification
from oemhost.errors import OemhostError
from oemhost.monitor.config import MonitorConfig
from oemhost.monitor.incidents import add_event
from oemhost.monitor.inventory import load_nodes, load_resellers, tenants_by_reseller
from oemhost.notify import Mailer, render

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Audience:
    key: str                 # "ops" | "reseller:<id>"
    name: str
    contacts: tuple[str, ...]
    language: str
    tenants: int | None = None


def audiences_for(cfg: MonitorConfig, inventory_dir: Path, node: str) -> list[Audience]:
    out = []
    if cfg.ops_contacts:
        out.append(Audience("ops", "運用担当" if cfg.ops_language == "ja" else "Operations",
                            cfg.ops_contacts, cfg.ops_language))
    resellers = load_resellers(inventory_dir)
    counts = tenants_by_reseller(inventory_dir, node)
    owner = next((n.owner for n in load_nodes(inventory_dir) if n.name == node), None)
    concerned = set(counts)
    if owner and owner != "shared":
        concerned.add(owner)
    for rid in sorted(concerned):
        r = resellers.get(rid)
        if r is None or not r.contacts:
            continue
        out.append(Audience(f"reseller:{rid}", r.company, r.contacts, r.locale,
                            counts.get(rid, 0)))
    return out


def _incident_view(incident: MonitorIncident) -> dict:
    return {"id": incident.id, "node": incident.node, "service": incident.service,
            "failing": list(incident.failing), "affected": list(incident.affected),
            "started_at": incident.started_at, "detected_at": incident.detected_at,
            "recovered_at": incident.recovered_at, "summary": incident.summary,
            "level": incident.level, "escalated": incident.escalated}


def _timeline(incident: MonitorIncident) -> list[dict]:
    skip = {"notice_sent", "notice_failed", "report_sent", "report_failed"}
    return [{"at": e.at, "kind": e.kind, "message": e.message, "data": e.data or {}}
            for e in incident.events if e.kind not in skip]


class Notifier:
    def __init__(self, cfg: MonitorConfig, inventory_dir: Path,
                 mailer_factory: Callable[[], Mailer], provider_name: str = ""):
        self.cfg = cfg
        self.inventory_dir = Path(inventory_dir)
        self._mailer_factory = mailer_factory
        self._mailer: Mailer | None = None
        self.provider_name = provider_name

    def _get_mailer(self) -> Mailer:
        if self._mailer is None:
            self._mailer = self._mailer_factory()
        return self._mailer

    # -- what is due --------------------------------------------------------------------
    def run(self, session: Session, now: datetime) -> dict[str, int]:
        """Send every notice and report that is due. Commits as it goes: call it with a
        session of its own, outside the engine lock."""
        sent = {"notice": 0, "report": 0}
        threshold = now - timedelta(seconds=self.cfg.notice_after)
        for inc in session.scalars(select(MonitorIncident).where(
                MonitorIncident.status == "open", MonitorIncident.notice_sent_at.is_(None),
                MonitorIncident.started_at <= threshold)).all():
            sent["notice"] += self.send(session, inc, "notice", now)
        for inc in session.scalars(select(MonitorIncident).where(
                MonitorIncident.status == "recovered", MonitorIncident.report_sent_at.is_(None),
                MonitorIncident.report_send_at.is_not(None),
                MonitorIncident.report_send_at <= now)).all():
            sent["report"] += self.send(session, inc, "report", now)
        return sent

    # -- one incident, one kind -------------------------------------------------------------
    def send(self, session: Session, incident: MonitorIncident, kind: str,
             now: datetime) -> int:
        """Send ``kind`` ("notice" | "report") to every audience not yet served."""
        existing = {n.audience: n for n in session.scalars(select(MonitorNotification).where(
            MonitorNotification.incident_id == incident.id, MonitorNotification.kind == kind))}
        audiences = audiences_for(self.cfg, self.inventory_dir, incident.node)
        sent_now, failed = [], []
        for aud in audiences:
            row = existing.get(aud.key)
            if row is not None and (row.status == "sent" or row.attempts >= MAX_ATTEMPTS):
                continue
            if row is not None and row.attempts and now < row.created_at + timedelta(
                    minutes=2 ** row.attempts):
                continue  # back off between retries
            subject, body = self._render(incident, kind, aud, now)
            if row is None:
                row = MonitorNotification(
                    incident_id=incident.id, kind=kind, audience=aud.key, language=aud.language,
                    recipients=list(aud.contacts), subject=subject[:300], body=body,
                    status="failed", attempts=0, created_at=now)
                session.add(row)
                existing[aud.key] = row
            # the attempt is on record before the mail leaves (and no write lock is held
            # while the relay answers): at most one copy per attempt, even after a crash
            row.attempts += 1
            row.subject, row.body = subject[:300], body
            session.commit()
            try:
                mailer = self._get_mailer()
                result = mailer.send(mailer.compose(aud.contacts, subject, body))
            except OemhostError as exc:
                row.status, row.error = "failed", str(exc)[:500]
                session.commit()
                failed.append(aud.key)
                log.warning("monitor: %s for incident %s to %s failed: %s", kind, incident.id,
                            aud.key, exc)
                continue
            row.status, row.sent_at, row.message_id = "sent", now, result.message_id
            row.error = f"refused: {', '.join(result.refused)}" if result.refused else None
            session.commit()
            sent_now.append(aud.key)
        if sent_now:
            add_event(session, incident, f"{kind}_sent",
                      f"{kind} mailed to {', '.join(sent_now)}", now, audiences=sent_now)
        if failed:
            add_event(session, incident, f"{kind}_failed",
                      f"{kind} could not be mailed to {', '.join(failed)}", now,
                      audiences=failed)
        stamp = "notice_sent_at" if kind == "notice" else "report_sent_at"
        if getattr(incident, stamp) is None and (sent_now or not audiences):
            # the first delivery marks the incident; audiences that failed are retried by
            # retry_failed() (at most MAX_ATTEMPTS), and nobody gets a second copy
            setattr(incident, stamp, now)
            if not audiences:
                add_event(session, incident, f"{kind}_failed",
                          f"no {kind} sent: no contacts configured", now, audiences=[])
        return len(sent_now)

    def retry_failed(self, session: Session, now: datetime) -> int:
        n = 0
        rows = session.scalars(select(MonitorNotification).where(
            MonitorNotification.status == "failed",
            MonitorNotification.attempts < MAX_ATTEMPTS,
            MonitorNotification.incident_id.is_not(None))).all()
        for key in {(r.incident_id, r.kind) for r in rows}:
            incident = session.get(MonitorIncident, key[0])
            if incident is not None:
                n += self.send(session, incident, key[1], now)
        return n

    def _render(self, incident: MonitorIncident, kind: str, aud: Audience,
                now: datetime) -> tuple[str, str]:
        end = incident.recovered_at or now
        return render(
            f"incident_{kind}", aud.language, tz=self.cfg.business.timezone,
            incident=_incident_view(incident), timeline=_timeline(incident),
            audience={"name": aud.name, "tenants": aud.tenants},
            provider=self.provider_name or "oemhost",
            notice_after=self.cfg.notice_after,
            elapsed=(now - incident.started_at).total_seconds(),
            outage=(end - incident.started_at).total_seconds(),
            report_due=incident.report_due_at or self.cfg.business.report_due(end))

