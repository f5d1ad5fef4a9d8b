"""Level 1 (restart the service's unit) and level 2 (reboot the node's infrastructure).

Decisions only; the work runs elsewhere: a level-1 restart is a ``remediation`` job of the
job engine (``playbooks/remediate_service.yml`` with ``oemhost_service: <unit>``), a level-2
reboot goes through the node's infrastructure provider (:mod:`oemhost.monitor.infra`).

Bounds (no restart loops, no reboot storms):

- a unit is restarted at most ``max_restarts`` times per incident, ``restart_backoff``
  seconds apart, and at most ``restarts_per_hour`` times per node across incidents;
- a flapping check is never restarted; a failure a restart cannot fix (login refused,
  certificate, HTTP status) is left to operators;
- level 2 only when the node answers neither ping nor an SSH login (an sshd that answers
  but refuses the key means the node is alive), at most ``reboots_per_incident`` per
  incident and one per node per ``reboot_window`` (:mod:`oemhost.monitor.infra.limits`);
- when automation has nothing left to try the incident is marked *escalated*.

State per incident lives in ``MonitorIncident.remediation`` (JSON)::

    {"units": {"apache2": {"attempts": 1, "state": "pending", "job": "42",
                           "requested_at": "...", "next_at": null}},
     "ssh": {"status": "down", "at": "..."},
     "reboots": 1, "reboot": {"state": "waiting", "at": "...", "job": null, "action": 7},
     "once": ["flapping_start", ...]}
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oemhost.config import Settings
from oemhost.db.models.monitor import (
    MonitorCheckState,
    MonitorIncident,
    MonitorIncidentEvent,
    MonitorInfraAction,
)
from oemhost.errors import OemhostError, ValidationError
from oemhost.monitor.checks import CheckResult, Failure, Status
from oemhost.monitor.config import MonitorConfig
from oemhost.monitor.incidents import add_event
from oemhost.monitor.infra import RebootRequest, provider_for
from oemhost.monitor.infra.limits import reboot_allowed
from oemhost.monitor.inventory import NodeInfo
from oemhost.monitor.jobs import JobGateway, JobState

log = logging.getLogger(__name__)

PLAYBOOK = "remediate_service.yml"
SshCheck = Callable[[NodeInfo], CheckResult]


def _iso(t: datetime) -> str:
    return t.isoformat()


def _dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


class Remediator:
    def __init__(self, cfg: MonitorConfig, settings: Settings, jobs: JobGateway,
                 ssh_check: SshCheck):
        self.cfg = cfg
        self.settings = settings
        self.jobs = jobs
        self.ssh_check = ssh_check

    # -- helpers ----------------------------------------------------------------------
    @staticmethod
    def _state(incident: MonitorIncident) -> dict[str, Any]:
        rem = copy.deepcopy(incident.remediation or {})
        rem.setdefault("units", {})
        rem.setdefault("reboots", 0)
        rem.setdefault("once", [])
        return rem

    @staticmethod
    def _checkpoint(session: Session, incident: MonitorIncident, rem: dict) -> None:
        """Commit before (and after) slow I/O: an SSH login or a reboot must not hold the
        database's write lock (SQLite) while it runs."""
        incident.remediation = copy.deepcopy(rem)
        session.commit()

    @staticmethod
    def _once(session: Session, incident: MonitorIncident, rem: dict, key: str, kind: str,
              message: str, now: datetime, **data: Any) -> None:
        if key in rem["once"]:
            return
        rem["once"].append(key)
        add_event(session, incident, kind, message, now, **data)

    def _escalate(self, session: Session, incident: MonitorIncident, rem: dict, why: str,
                  now: datetime) -> None:
        incident.escalated = True
        self._once(session, incident, rem, f"escalated:{why}", "escalated", why, now)

    # -- deciding ----------------------------------------------------------------------
    def plan(self, session: Session, incident: MonitorIncident, node: NodeInfo | None,
             rows: Mapping[str, MonitorCheckState], host_down: bool, now: datetime) -> None:
        """Start what the incident needs now (idempotent: call it every run)."""
        rem = self._state(incident)
        try:
            if host_down:
                self._level2(session, incident, node, rem, now, why="node answers no ping")
            else:
                failing = {p: rows[p] for p in incident.failing if p in rows and p != "ping"}
                self._level1(session, incident, node, failing, rem, now)
        finally:
            incident.remediation = rem

    def _level1(self, session: Session, incident: MonitorIncident, node: NodeInfo | None,
                failing: Mapping[str, MonitorCheckState], rem: dict, now: datetime) -> None:
        if not failing:
            return
        if any(r.flapping for r in failing.values()):
            incident.flapping = True
            self._once(session, incident, rem, "flapping", "flapping_start",
                       "intermittent failures: no automatic restart", now)
            return
        units: dict[str, list[str]] = {}
        fixed_by_hand = []
        for proto, row in sorted(failing.items()):
            failure = Failure(row.failure) if row.failure else Failure.CONNECT
            if failure.restartable:
                units.setdefault(self.cfg.units[proto], []).append(proto)
            else:
                fixed_by_hand.append(proto)
        if fixed_by_hand:
            self._once(session, incident, rem, "not_restartable:" + ",".join(fixed_by_hand),
                       "not_restartable",
                       f"{', '.join(fixed_by_hand)}: a restart would not fix "
                       f"({failing[fixed_by_hand[0]].failure})", now, protocols=fixed_by_hand)
            if not units:
                self._escalate(session, incident, rem, "failure needs an operator", now)
        if not self.cfg.remediation or node is None:
            return
        for unit, protos in units.items():
            u = rem["units"].setdefault(unit, {"attempts": 0, "state": "idle"})
            if u["state"] == "pending":
                continue
            if u.get("next_at") and now < _dt(u["next_at"]):
                continue
            if u["attempts"] >= self.cfg.max_restarts:
                self._escalate(session, incident, rem,
                               f"{unit}: {u['attempts']} restart(s) did not bring "
                               f"{', '.join(protos)} back", now)
                if not u.get("level2_checked"):
                    u["level2_checked"] = True
                    self._level2(session, incident, node, rem, now,
                                 why=f"{unit} still down after {u['attempts']} restart(s)")
                continue
            if self._restarts_last_hour(session, incident.node, unit, now) >= \
                    self.cfg.restarts_per_hour:
                self._once(session, incident, rem, f"budget:{unit}", "restart_skipped",
                           f"{unit} restarted {self.cfg.restarts_per_hour} times on "
                           f"{incident.node} in the last hour", now, unit=unit)
                self._escalate(session, incident, rem, f"{unit}: restart budget used", now)
                continue
            reason = f"incident #{incident.id}: {', '.join(protos)} down on {incident.node}"
            try:
                job_id = self.jobs.submit(
                    session, kind="remediation", playbook=PLAYBOOK, nodes=[incident.node],
                    extravars={"oemhost_service": unit}, requested_by="monitor", reason=reason)
            except OemhostError as exc:
                u["attempts"] = self.cfg.max_restarts
                self._once(session, incident, rem, f"error:{unit}", "remediation_error",
                           f"restart of {unit} not started: {exc}", now, unit=unit)
                self._escalate(session, incident, rem, "level 1 unavailable", now)
                continue
            u.update(state="pending", job=job_id, requested_at=_iso(now), next_at=None,
                     attempts=u["attempts"] + 1)
            incident.level = max(incident.level, 1)
            add_event(session, incident, "restart_requested",
                      f"level 1: restart {unit} (job {job_id}, attempt {u['attempts']})",
                      now, unit=unit, job=job_id, attempt=u["attempts"], protocols=protos)

    def _restarts_last_hour(self, session: Session, node: str, unit: str,
                            now: datetime) -> int:
        events = session.scalars(
            select(MonitorIncidentEvent).join(MonitorIncident)
            .where(MonitorIncident.node == node,
                   MonitorIncidentEvent.kind == "restart_requested",
                   MonitorIncidentEvent.at >= now - timedelta(hours=1)))
        return sum(1 for e in events if (e.data or {}).get("unit") == unit)

    def _level2(self, session: Session, incident: MonitorIncident, node: NodeInfo | None,
                rem: dict, now: datetime, why: str) -> None:
        if rem.get("reboot") or rem.get("level2_done"):
            return
        if node is None:
            return
        ssh = rem.get("ssh")
        if ssh is None:
            self._checkpoint(session, incident, rem)
            result = self.ssh_check(node)
            status = ("ok" if result.status is Status.OK else
                      "alive" if result.status is Status.WARNING else
                      "unknown" if result.status is Status.UNKNOWN else "down")
            rem["ssh"] = ssh = {"status": status, "at": _iso(now), "message": result.message}
            if status == "down":
                add_event(session, incident, "ssh_failed", result.message, now)
            elif status in ("ok", "alive"):
                add_event(session, incident, "ssh_ok", f"{result.message}: no reboot", now)
        if ssh["status"] != "down":
            rem["level2_done"] = True
            self._escalate(session, incident, rem,
                           f"{why}, but the node accepts SSH: operators must look"
                           if ssh["status"] != "unknown" else f"{why}; SSH check failed to run",
                           now)
            return
        if not self.cfg.remediation:
            return
        rem["level2_done"] = True
        if not node.infra_provider:
            add_event(session, incident, "reboot_skipped", "no infrastructure provider "
                      "configured for this node", now)
            self._escalate(session, incident, rem, "node down, no way to reboot it", now)
            return
        allowed, reason = reboot_allowed(
            session, node.name, now, window=self.cfg.reboot_window,
            incident_reboots=rem["reboots"], per_incident=self.cfg.reboots_per_incident)
        if not allowed:
            add_event(session, incident, "reboot_skipped", reason, now)
            self._escalate(session, incident, rem, "node down, reboot not allowed now", now)
            return
        try:
            provider = provider_for(node.infra_provider)
        except ValidationError as exc:
            add_event(session, incident, "reboot_skipped", str(exc), now)
            self._escalate(session, incident, rem, "node down, provider misconfigured", now)
            return
        self._checkpoint(session, incident, rem)
        outcome = provider.reboot(RebootRequest(node=node, reason=f"incident #{incident.id}: "
                                                f"{why}", settings=self.settings,
                                                session=session, jobs=self.jobs))
        action = MonitorInfraAction(node=node.name, provider=provider.name, action="reboot",
                                    incident_id=incident.id, requested_at=now,
                                    status=outcome.status, job_id=outcome.job_id,
                                    message=outcome.message[:500])
        session.add(action)
        session.flush()
        rem["reboots"] += 1
        incident.level = 2
        add_event(session, incident, "reboot_requested",
                  f"level 2: reboot via {provider.name}: {outcome.message}", now,
                  provider=provider.name, job=outcome.job_id, action=action.id)
        if outcome.status == "failed":
            add_event(session, incident, "reboot_result", outcome.message, now,
                      ok=False, provider=provider.name)
            self._escalate(session, incident, rem, "node down, reboot failed", now)
            return
        rem["reboot"] = {"state": "pending" if outcome.status == "submitted" else "waiting",
                         "job": outcome.job_id, "at": _iso(now), "action": action.id,
                         "provider": provider.name,
                         "done_at": None if outcome.status == "submitted" else _iso(now)}
        if outcome.status == "done":
            add_event(session, incident, "reboot_result", outcome.message, now, ok=True,
                      provider=provider.name)
        self._checkpoint(session, incident, rem)

    # -- following up ------------------------------------------------------------------------
    def poll(self, session: Session, incident: MonitorIncident, now: datetime) -> list[str]:
        """Finish what ran since the last call; the protocols to verify by probing now."""
        rem = self._state(incident)
        verify: list[str] = []
        try:
            for unit, u in rem["units"].items():
                if u.get("state") != "pending":
                    continue
                state = self._job_state(session, u["job"])
                timed_out = now - _dt(u["requested_at"]) > timedelta(
                    seconds=self.cfg.job_timeout)
                if not state.finished and not timed_out:
                    continue
                ok = state is JobState.SUCCEEDED
                what = state.value if state.finished else "timed out"
                add_event(session, incident, "restart_result",
                          f"level 1: restart {unit} {what} (job {u['job']})", now,
                          unit=unit, job=u["job"], ok=ok, state=what)
                u.update(state="idle",
                         next_at=_iso(now + timedelta(seconds=self.cfg.restart_backoff)))
                verify += [p for p in incident.failing if self.cfg.units.get(p) == unit]
            reboot = rem.get("reboot")
            if reboot and reboot["state"] == "pending":
                state = self._job_state(session, reboot["job"])
                timed_out = now - _dt(reboot["at"]) > timedelta(seconds=self.cfg.job_timeout)
                if state.finished or timed_out:
                    ok = state is JobState.SUCCEEDED
                    action = session.get(MonitorInfraAction, reboot["action"])
                    if action is not None:
                        action.status = "done" if ok else "failed"
                    add_event(session, incident, "reboot_result",
                              f"reboot job {reboot['job']}: "
                              f"{state.value if state.finished else 'timed out'}",
                              now, ok=ok, provider=reboot["provider"])
                    if ok:
                        reboot.update(state="waiting", done_at=_iso(now))
                    else:
                        reboot["state"] = "finished"
                        self._escalate(session, incident, rem, "node down, reboot failed", now)
            if reboot and reboot["state"] == "waiting" and now - _dt(reboot["done_at"]) >= \
                    timedelta(seconds=self.cfg.reboot_grace):
                reboot["state"] = "verifying"
                verify.append("*")  # every check of the node
            elif reboot and reboot["state"] == "verifying":
                reboot["state"] = "finished"
                if "ping" in incident.failing:
                    self._escalate(session, incident, rem,
                                   "node did not come back after the reboot", now)
        finally:
            incident.remediation = rem
        return verify

    def _job_state(self, session: Session, job_id: str | None) -> JobState:
        if not job_id:
            return JobState.UNKNOWN
        try:
            return self.jobs.state(session, job_id)
        except OemhostError as exc:
            log.warning("monitor: job %s state unknown: %s", job_id, exc)
            return JobState.UNKNOWN
