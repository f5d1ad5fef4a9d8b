"""The monitor's engine: probe what is due, keep states, decide incidents, act, tell.

Two entry points, both run by the scheduler in the worker process (never in web workers):

- :meth:`Monitor.sweep` (every ``tick``, the shortest check interval; 10 minutes by
  default): probes every check that is due, re-checks SOFT failures ``retry_interval``
  apart until they are OK or HARD, then updates incidents and starts remediation;
- :meth:`Monitor.followup` (every ``followup_interval``, 30 s): collects finished
  remediation jobs and verifies them by probing at once, sends notices when an outage
  reaches ``notice_after`` and reports when the business calendar says so, prunes old
  results.

The probes themselves (:mod:`oemhost.monitor.probes`) know nothing of this: they run
outside the database lock, in this thread's event loop or in the prober pool.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from oemhost.config import Settings
from oemhost.db import session_scope
from oemhost.db.models.monitor import MonitorCheckState, MonitorIncident
from oemhost.monitor import db as monitor_db
from oemhost.monitor.checks import GROUP_OF, SERVICE_GROUPS, Check, CheckResult
from oemhost.monitor.config import MonitorConfig, load_monitor_config
from oemhost.monitor.external import is_external
from oemhost.monitor.incidents import (
    add_event,
    open_incidents,
    open_or_reopen,
    recover,
    set_failing,
)
from oemhost.monitor.inventory import NodeInfo, build_checks, load_nodes
from oemhost.monitor.jobs import EngineJobs, JobGateway
from oemhost.monitor.notices import Notifier
from oemhost.monitor.probes.pool import probe_all
from oemhost.monitor.probes.ssh import ssh_login
from oemhost.monitor.records import is_hard_down, load_states, observe, prune_results
from oemhost.monitor.remediation import Remediator
from oemhost.notify import Mailer

log = logging.getLogger(__name__)

#: Serialises the engine's database phases within the worker process (sweep and followup
#: run in the scheduler's thread pool); probing happens outside it.
ENGINE_LOCK = threading.RLock()
#: One mailer run at a time (sweep and follow-up may both find the same mail due).
NOTIFY_LOCK = threading.Lock()
_last_prune: dict[str, datetime] = {}

Prober = Callable[[Sequence[Check]], list[CheckResult]]


@dataclass
class RunReport:
    checked: int = 0
    retried: int = 0
    problems: int = 0
    opened: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    notices: int = 0
    reports: int = 0
    verified: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (f"checked {self.checked} (+{self.retried} retries, {self.verified} "
                f"verifications) in {self.seconds:.1f} s; {self.problems} problem(s); "
                f"incidents opened {self.opened or '-'} recovered {self.recovered or '-'}; "
                f"notices {self.notices}, reports {self.reports}")


def _restarting(incident: MonitorIncident) -> bool:
    """A level-1 restart job of the incident has not finished yet."""
    units = (incident.remediation or {}).get("units", {})
    return any(u.get("state") == "pending" for u in units.values())


class Monitor:
    def __init__(self, settings: Settings, *, cfg: MonitorConfig | None = None,
                 sessions: sessionmaker[Session] | None = None, prober: Prober | None = None,
                 jobs: JobGateway | None = None, mailer_factory: Callable[[], Mailer] | None = None,
                 ssh_check: Callable[[NodeInfo], CheckResult] | None = None,
                 clock: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], None] | None = None,
                 nodes: Callable[[], list[NodeInfo]] | None = None):
        self.settings = settings
        self.cfg = cfg or load_monitor_config(settings)
        self.sessions = sessions or monitor_db.sessions(settings)
        self.prober: Prober = prober or (lambda checks: probe_all(
            checks, processes=self.cfg.processes, concurrency=self.cfg.concurrency))
        self.jobs = jobs or EngineJobs(settings)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.sleep = sleep or time.sleep
        self._nodes = nodes or (lambda: load_nodes(settings.inventory_dir))
        provider_name = str(settings.section("smtp").get("from_name", ""))
        self.notifier = Notifier(self.cfg, settings.inventory_dir,
                                 mailer_factory or (lambda: Mailer.from_settings(settings)),
                                 provider_name=provider_name)
        self.remediator = Remediator(self.cfg, settings, self.jobs, ssh_check or self._ssh)

    # -- inputs -------------------------------------------------------------------------
    def nodes(self, only: Iterable[str] | None = None) -> dict[str, NodeInfo]:
        wanted = set(only) if only is not None else None
        return {n.name: n for n in self._nodes() if wanted is None or n.name in wanted}

    def checks(self, nodes: Iterable[NodeInfo]) -> list[Check]:
        return build_checks(nodes, self.cfg, self.settings)

    def _ssh(self, node: NodeInfo) -> CheckResult:
        c = node.connection
        return asyncio.run(ssh_login(node.name, node.address, port=c.port, user=c.user,
                                     key_file=c.private_key_file, timeout=self.cfg.ssh_timeout))

    def _attempts(self, checks: Iterable[Check]) -> dict[tuple[str, str], int]:
        return {c.key: self.cfg.check_config(c.node, c.protocol).max_attempts for c in checks}

    def _observe(self, results: Sequence[CheckResult], attempts) -> None:
        with ENGINE_LOCK, session_scope(self.sessions) as session:
            rows = load_states(session, {r.node for r in results})
            observe(session, rows, results, attempts, flap_low=self.cfg.flap_low,
                    flap_high=self.cfg.flap_high)

    # -- the sweep ------------------------------------------------------------------------
    def sweep(self, *, only: Iterable[str] | None = None, force: bool = False) -> RunReport:
        t0 = time.monotonic()
        report = RunReport()
        nodes = self.nodes(only)
        checks = self.checks(nodes.values())
        attempts = self._attempts(checks)
        now = self.clock()
        with session_scope(self.sessions) as session:
            rows = load_states(session, nodes)
            due = [c for c in checks if force or self._due(rows.get(c.key), c, now)]
        results = self.prober(due) if due else []
        report.checked = len(results)
        self._observe(results, attempts)
        by_key = {c.key: c for c in due}
        ping_of = {c.node: c for c in checks if c.protocol == "ping"}
        for _round in range(max(attempts.values(), default=1) - 1):
            with session_scope(self.sessions) as session:
                rows = load_states(session, {c.node for c in due})
                soft = [by_key[k] for k, r in rows.items()
                        if k in by_key and r.state_type == "soft" and r.status != "ok"]
            if not soft:
                break
            # a failing service makes its node's ping be re-checked with it (Nagios' host
            # check on a service problem): a node that went down in the middle of the sweep
            # is then seen as down, not as services failing one by one
            again = {c.key for c in soft}
            soft += [ping_of[n] for n in sorted({c.node for c in soft})
                     if n in ping_of and ping_of[n].key not in again]
            self.sleep(self.cfg.retry_interval)
            results = self.prober(soft)
            report.retried += len(results)
            self._observe(results, attempts)
        self._decide(report, nodes)
        report.seconds = time.monotonic() - t0
        log.info("monitor sweep: %s", report.line())
        return report

    @staticmethod
    def _due(row: MonitorCheckState | None, check: Check, now: datetime) -> bool:
        if row is None or row.state_type == "soft":
            return True
        slack = min(30.0, check.interval * 0.1)
        return row.last_checked_at + timedelta(seconds=check.interval - slack) <= now

    # -- incidents and actions ------------------------------------------------------------
    def _decide(self, report: RunReport, nodes: dict[str, NodeInfo] | None = None,
                evaluate: Iterable[str] | None = None, notify: bool = True) -> None:
        """Update incidents from the states of ``evaluate`` nodes (all when None), let
        remediation act on every open incident, send what is due."""
        with ENGINE_LOCK, session_scope(self.sessions) as session:
            now = self.clock()
            names = set(evaluate) if evaluate is not None else None
            rows_all = load_states(session, names)
            by_node: dict[str, dict[str, MonitorCheckState]] = defaultdict(dict)
            for (node, proto), row in rows_all.items():
                by_node[node][proto] = row
            opened = open_incidents(session, names)
            for node in set(by_node) | {n for n, _s in opened}:
                self._evaluate_node(session, node, by_node.get(node, {}), opened, now, report)
            session.flush()
            still_open = list(open_incidents(session).values())
            if still_open and nodes is None:
                nodes = self.nodes()
            for incident in still_open:
                if is_external(incident.service):
                    continue  # its owner resolves it; nothing to restart or reboot
                rows = by_node.get(incident.node)
                if rows is None:
                    rows = {p: r for (n, p), r in load_states(session, [incident.node]).items()}
                self.remediator.plan(session, incident, (nodes or {}).get(incident.node), rows,
                                     is_hard_down(rows.get("ping")), now)
            if names is None:
                report.problems = sum(1 for r in rows_all.values() if r.status != "ok")
        if notify:
            self._notify(report)

    def _notify(self, report: RunReport, retry: bool = False) -> None:
        """Mail what is due: outside the engine lock, committing per mail, so a slow relay
        holds up neither the probes nor the database."""
        with NOTIFY_LOCK, session_scope(self.sessions) as session:
            now = self.clock()
            sent = self.notifier.run(session, now)
            report.notices += sent["notice"]
            report.reports += sent["report"]
            if retry:
                report.notices += self.notifier.retry_failed(session, now)

    def _evaluate_node(self, session: Session, node: str, rows: dict[str, MonitorCheckState],
                       opened: dict[tuple[str, str], MonitorIncident], now: datetime,
                       report: RunReport) -> None:
        messages = {p: r.message for p, r in rows.items()}
        down = {p for p, r in rows.items() if is_hard_down(r)}
        flapping = {p for p, r in rows.items() if r.flapping}
        host_down = "ping" in down
        host = opened.get((node, "host"))
        services_down = sorted(down - {"ping"})

        def since(protos: Iterable[str]) -> datetime:
            times = [rows[p].since for p in protos if rows[p].since is not None]
            return min(times) if times else now

        if host_down or host is not None:
            failing = (["ping"] if host_down else []) + services_down
            if host is None:
                host = open_or_reopen(session, node, "host", started_at=since(failing),
                                      now=now, failing=failing,
                                      summary=f"ping: {messages.get('ping', '')}")
                opened[(node, "host")] = host
                report.opened.append(host.id)
            else:
                set_failing(session, host, failing, messages, now)
            self._flapping(session, host, flapping, now)
            if not failing and not (flapping & set(host.affected)):
                self.remediator.poll(session, host, now)   # results before "recovered"
                recover(session, host, now, calendar=self.cfg.business,
                        report_send=self.cfg.report_send, report_all=self.cfg.report_all)
                report.recovered.append(host.id)
                del opened[(node, "host")]
            return
        ping = rows.get("ping")
        if services_down and ping is not None and ping.status != "ok":
            # the node itself is failing and being re-checked (SOFT): whether this is one
            # "host" incident or service incidents is decided once ping is confirmed, so a
            # node going down never opens an incident per service first (Nagios' host
            # dependency); incidents already open keep their state until then
            return
        groups = {GROUP_OF[p] for p in services_down} | {
            s for n, s in opened if n == node and not is_external(s)}
        for group in sorted(groups):
            failing = [p for p in services_down if GROUP_OF[p] == group]
            incident = opened.get((node, group))
            if incident is None:
                incident = open_or_reopen(
                    session, node, group, started_at=since(failing), now=now, failing=failing,
                    summary="; ".join(f"{p}: {messages[p]}" for p in failing))
                opened[(node, group)] = incident
                report.opened.append(incident.id)
            else:
                set_failing(session, incident, failing, messages, now)
            group_flapping = flapping & set(SERVICE_GROUPS[group])
            self._flapping(session, incident, group_flapping, now)
            if not failing and not group_flapping:
                self.remediator.poll(session, incident, now)
                recover(session, incident, now, calendar=self.cfg.business,
                        report_send=self.cfg.report_send, report_all=self.cfg.report_all)
                report.recovered.append(incident.id)
                del opened[(node, group)]

    @staticmethod
    def _flapping(session: Session, incident: MonitorIncident, flapping: set[str],
                  now: datetime) -> None:
        if flapping and not incident.flapping:
            incident.flapping = True
            add_event(session, incident, "flapping_start",
                      f"{', '.join(sorted(flapping))} flapping: no automatic restart", now,
                      protocols=sorted(flapping))
        elif not flapping and incident.flapping:
            incident.flapping = False
            add_event(session, incident, "flapping_stop", "state is stable again", now)

    # -- the follow-up ---------------------------------------------------------------------
    def followup(self) -> RunReport:
        t0 = time.monotonic()
        report = RunReport()
        verify: dict[str, set[str]] = defaultdict(set)
        with ENGINE_LOCK, session_scope(self.sessions) as session:
            now = self.clock()
            for incident in open_incidents(session).values():
                for proto in self.remediator.poll(session, incident, now):
                    verify[incident.node].add(proto)
            # the service answered before its restart job ended: record the job's result
            for incident in session.scalars(select(MonitorIncident).where(
                    MonitorIncident.status == "recovered",
                    MonitorIncident.recovered_at >= now - timedelta(
                        seconds=self.cfg.job_timeout))):
                if _restarting(incident):
                    self.remediator.poll(session, incident, now)
        nodes = self.nodes(verify) if verify else None
        if verify:
            wanted = [c for c in self.checks(nodes.values())
                      if "*" in verify[c.node] or c.protocol in verify[c.node]]
            results = self.prober(wanted)
            report.verified = len(results)
            self._observe(results, self._attempts(wanted))
        self._decide(report, evaluate=set(verify), notify=False)
        self._notify(report, retry=True)
        with ENGINE_LOCK, session_scope(self.sessions) as session:
            now = self.clock()
            key = self.settings.database_url
            if key not in _last_prune or now - _last_prune[key] > timedelta(hours=1):
                _last_prune[key] = now
                pruned = prune_results(session, now, self.cfg.retention_days)
                if pruned:
                    log.info("monitor: pruned %d probe results", pruned)
        report.seconds = time.monotonic() - t0
        return report
