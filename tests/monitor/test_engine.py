"""The engine end to end, in a private network namespace: nodes are loopback addresses
served by simulated daemons, a dead node is an address with no route; mail goes through a
real SMTP server; the job engine is a stand-in with its API (it lands separately)."""

from __future__ import annotations

import stat
from datetime import timedelta

from sqlalchemy import func, select

from oemhost.db import session_scope
from oemhost.db.models.monitor import (
    MonitorCheckState,
    MonitorIncident,
    MonitorInfraAction,
    MonitorNotification,
    MonitorProbeResult,
)
from oemhost.monitor import simulate as sim
from oemhost.monitor.probes.pool import shared_pool

N1 = "10.200.1.11"
N2 = "10.200.2.22"


def kinds(incident: MonitorIncident) -> list[str]:
    return [e.kind for e in incident.events]


def incidents(mon) -> list[MonitorIncident]:
    with session_scope(mon.sessions) as s:
        rows = list(s.scalars(select(MonitorIncident).order_by(MonitorIncident.id)))
        for r in rows:
            _ = r.events, r.notifications  # load while the session is open
        return rows


def test_all_up_stores_states_and_results_and_opens_nothing(world):
    world.node("node1", N1, services=["web", "mail", "ftp"])
    world.up(N1, ["web", "mail", "ftp"])
    mon = world.monitor()
    report = mon.sweep()
    assert report.checked == 11 and report.problems == 0 and not report.opened
    with session_scope(mon.sessions) as s:
        states = {r.protocol: r for r in s.scalars(select(MonitorCheckState))}
        assert set(states) == {"ping", "http", "https", "ftp", "ftps", "smtp", "smtps",
                               "pop3", "pop3s", "imap", "imaps"}
        assert all(r.status == "ok" and r.state_type == "hard" for r in states.values())
        assert states["https"].cert_days_left > 80
        assert s.scalar(select(func.count(MonitorProbeResult.id))) == 11
    assert incidents(mon) == []
    # nothing is due again until the interval has passed
    assert mon.sweep().checked == 0
    world.clock.advance(minutes=10)
    assert mon.sweep().checked == 11


def test_stopped_web_server_is_restarted_verified_and_closed(world):
    world.node("node1", N1, services=["web", "mail"])
    world.up(N1, ["web", "mail"])
    world.jobs.on_submit = lambda job: world.start(N1, "http", "https")  # "the playbook"
    mon = world.monitor()
    mon.sweep()
    world.stop(N1, "http", "https")
    world.clock.advance(minutes=10)
    report = mon.sweep()
    # the SOFT failures re-checked before they count, and the node's ping with them
    assert report.retried == 3
    with session_scope(mon.sessions) as s:
        ping = s.get(MonitorCheckState, ("node1", "ping"))
        assert ping.attempt == 1 and ping.status == "ok"
    (inc,) = incidents(mon)
    assert (inc.node, inc.service, inc.status) == ("node1", "web", "open")
    assert inc.failing == ["http", "https"] and inc.level == 1
    (job,) = world.jobs.submitted
    assert job == {"id": "1", "kind": "remediation", "playbook": "remediate_service.yml",
                   "nodes": ["node1"], "extravars": {"oemhost_service": "apache2"},
                   "requested_by": "monitor", "reason": job["reason"]}
    assert f"incident #{inc.id}" in job["reason"]
    world.clock.advance(seconds=30)
    follow = mon.followup()
    assert follow.verified == 2 and follow.recovered == [inc.id]
    (inc,) = incidents(mon)
    assert inc.status == "recovered" and inc.failing == [] and inc.affected == ["http", "https"]
    assert kinds(inc) == ["detected", "restart_requested", "restart_result",
                          "check_recovered", "check_recovered", "recovered"]
    assert inc.events[2].data["ok"] is True
    # recovered within 10 minutes: no notice, and so no report
    assert inc.notice_sent_at is None and inc.report_send_at is None
    assert world.smtpd.box.messages == []


def test_restarts_that_do_not_help_are_bounded(world):
    world.node("node1", N1, services=["web"])
    world.up(N1, ["web"])
    mon = world.monitor(max_restarts=2)
    mon.sweep()
    world.stop(N1, "http", "https")
    world.clock.advance(minutes=10)
    mon.sweep()
    for _ in range(6):
        world.clock.advance(seconds=30)
        mon.followup()
    assert [j["extravars"] for j in world.jobs.submitted] == [{"oemhost_service": "apache2"}] * 2
    (inc,) = incidents(mon)
    assert inc.status == "open" and inc.escalated
    k = kinds(inc)
    assert k.count("restart_requested") == 2 and k.count("restart_result") == 2
    # restarts exhausted and no SSH login: level 2, but the node has no provider
    assert "ssh_failed" in k and "reboot_skipped" in k and "escalated" in k


def test_failure_a_restart_cannot_fix_is_left_to_operators(world):
    world.node("node1", N1, services=["web"])
    world.up(N1, [])
    world.start(N1, "http", behaviour=sim.Behaviour(http_status=503))
    world.start(N1, "https")
    mon = world.monitor()
    mon.sweep()
    (inc,) = incidents(mon)
    assert inc.failing == ["http"]
    assert world.jobs.submitted == []
    assert "not_restartable" in kinds(inc) and inc.escalated


def test_dead_node_is_one_incident_rebooted_once_and_closed_when_back(world, tmp_path):
    marker = tmp_path / "rebooted"
    script = tmp_path / "power-cycle"
    script.write_text(f"#!/bin/sh\necho \"$1 $OEMHOST_ADDRESS\" >> {marker}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    world.node("node2", N2, services=["web", "mail", "ftp"],
               infra={"provider": "command", "params": {"argv": [str(script), "{node}"]}})
    world.env.reseller("acme", ["noc@acme.example"], locale="en")
    world.env.tenant("shop1", "acme", "node2")
    world.up(N2, ["web", "mail", "ftp"])
    mon = world.monitor()
    mon.sweep()
    world.down(N2)                                        # the machine dies
    world.clock.advance(minutes=10)
    report = mon.sweep()
    assert len(report.opened) == 1
    (inc,) = incidents(mon)
    assert (inc.node, inc.service) == ("node2", "host")   # ONE incident, not eleven
    assert set(inc.failing) == {"ping", "http", "https", "ftp", "ftps", "smtp", "smtps",
                                "pop3", "pop3s", "imap", "imaps"}
    assert marker.read_text() == f"node2 {N2}\n"          # rebooted through the provider
    assert kinds(inc)[:4] == ["detected", "ssh_failed", "reboot_requested", "reboot_result"]
    assert inc.level == 2
    with session_scope(mon.sessions) as s:
        (action,) = s.scalars(select(MonitorInfraAction))
        assert (action.node, action.provider, action.status) == ("node2", "command", "done")
    world.up(N2, ["web", "mail", "ftp"])                   # ... and comes back
    world.clock.advance(seconds=130)                       # past reboot_grace
    follow = mon.followup()
    assert follow.verified == 11 and follow.recovered == [inc.id]
    (inc,) = incidents(mon)
    assert inc.status == "recovered" and not inc.escalated
    assert marker.read_text().count("\n") == 1            # exactly one reboot


def test_network_cut_ends_in_notices_not_a_reboot_storm(world, tmp_path):
    marker = tmp_path / "rebooted"
    script = tmp_path / "power-cycle"
    script.write_text(f"#!/bin/sh\necho x >> {marker}\n")
    script.chmod(0o755)
    world.node("node2", N2, services=["web"],
               infra={"provider": "command", "params": {"argv": [str(script)]}})
    world.env.reseller("acme", ["noc@acme.example"], locale="en")
    world.env.tenant("shop1", "acme", "node2")
    world.up(N2, ["web"])
    mon = world.monitor(reboot_window=3600)
    mon.sweep()
    world.down(N2)                                         # cut, never comes back
    for _ in range(40):                                    # 40 sweeps/follow-ups, 20 min
        world.clock.advance(seconds=30)
        mon.sweep()
        mon.followup()
    (inc,) = incidents(mon)
    assert inc.status == "open" and inc.escalated
    assert marker.read_text() == "x\n"                     # one reboot, no storm
    assert "node did not come back after the reboot" in [e.message for e in inc.events]
    mails = world.smtpd.box.messages
    assert sorted(m["to"][0] for m in mails) == ["noc@acme.example", "ops@provider.example"]
    assert inc.notice_sent_at is not None
    # the node comes back, fails again 40 minutes later (a new incident): still no reboot
    # within the window
    world.up(N2, ["web"])
    world.clock.advance(minutes=1)
    mon.sweep()
    world.clock.advance(minutes=40)
    world.down(N2)
    mon.sweep()
    first, second = incidents(mon)
    assert first.status == "recovered" and second.status == "open"
    assert "reboot_skipped" in kinds(second)
    assert "within the 60-minute window" in next(
        e.message for e in second.events if e.kind == "reboot_skipped")
    assert marker.read_text() == "x\n"


def test_notice_once_after_ten_minutes_and_report_next_business_day(world):
    world.node("node1", N1, services=["web"], owner="acme")
    world.env.reseller("acme", ["noc@acme.example", "boss@acme.example"], locale="en",
                       company="ACME Hosting")
    world.env.reseller("beta", ["ops@beta.example"], locale="ja", company="ベータ株式会社")
    world.env.tenant("shop1", "beta", "node1")
    world.env.tenant("shop2", "beta", "node1")
    world.env.reseller("gamma", ["x@gamma.example"])     # not on this node: not told
    world.up(N1, ["web"])
    mon = world.monitor(remediation=False)
    mon.sweep()
    world.stop(N1, "https")
    world.clock.advance(minutes=10)
    mon.sweep()
    (inc,) = incidents(mon)
    started = inc.started_at
    world.clock.now = started + timedelta(minutes=9)
    mon.followup()
    assert world.smtpd.box.messages == []
    world.clock.now = started + timedelta(minutes=10, seconds=5)
    mon.followup()
    mails = {m["to"][0]: m for m in world.smtpd.box.messages}
    assert set(mails) == {"ops@provider.example", "noc@acme.example", "ops@beta.example"}
    assert mails["noc@acme.example"]["to"] == ["noc@acme.example", "boss@acme.example"]
    assert "Failure notice" in str(mails["noc@acme.example"]["msg"]["Subject"])
    assert "障害通知" in str(mails["ops@beta.example"]["msg"]["Subject"])
    beta_body = mails["ops@beta.example"]["msg"].get_content()
    assert "影響するお客様: 2 件" in beta_body
    for _ in range(3):
        world.clock.advance(minutes=1)
        mon.sweep()
        mon.followup()
    assert len(world.smtpd.box.messages) == 3               # once per incident
    world.start(N1, "https")
    world.clock.advance(minutes=10)
    mon.sweep()
    (inc,) = incidents(mon)
    assert inc.status == "recovered"
    cal = mon.cfg.business
    assert inc.report_send_at == cal.report_send_at(inc.recovered_at)
    assert inc.report_due_at == cal.report_due(inc.recovered_at)
    assert inc.report_send_at > inc.recovered_at
    world.clock.now = inc.report_send_at - timedelta(minutes=1)
    mon.followup()
    assert len(world.smtpd.box.messages) == 3
    world.clock.now = inc.report_send_at + timedelta(seconds=1)
    mon.followup()
    mon.followup()
    reports = world.smtpd.box.messages[3:]
    assert len(reports) == 3
    subjects = sorted(str(m["msg"]["Subject"]) for m in reports)
    assert any("Failure report" in s for s in subjects)
    assert sum("障害報告" in s for s in subjects) == 2       # ops (ja) and beta (ja)
    with session_scope(mon.sessions) as s:
        rows = s.scalars(select(MonitorNotification)).all()
        assert sorted((r.kind, r.audience, r.status) for r in rows) == [
            ("notice", "ops", "sent"), ("notice", "reseller:acme", "sent"),
            ("notice", "reseller:beta", "sent"), ("report", "ops", "sent"),
            ("report", "reseller:acme", "sent"), ("report", "reseller:beta", "sent")]
    (inc,) = incidents(mon)
    assert inc.report_sent_at is not None
    assert kinds(inc)[-1] == "report_sent"


def test_relay_down_then_up_retries_without_duplicates(world):
    world.node("node1", N1, services=["web"])
    world.up(N1, ["web"])
    mon = world.monitor(remediation=False)
    real_port = world.env.smtp["port"]
    world.env.smtp["port"] = 9                              # nothing listens there
    mon = world.monitor(remediation=False)
    mon.sweep()
    world.stop(N1, "http")
    world.clock.advance(minutes=10)
    mon.sweep()
    world.clock.advance(minutes=11)
    mon.followup()
    (inc,) = incidents(mon)
    assert inc.notice_sent_at is None and "notice_failed" in kinds(inc)
    world.env.smtp["port"] = real_port
    mon = world.monitor(remediation=False)
    world.clock.advance(minutes=3)                          # past the retry back-off
    mon.followup()
    mon.followup()
    assert [m["to"] for m in world.smtpd.box.messages] == [["ops@provider.example"]]
    (inc,) = incidents(mon)
    assert inc.notice_sent_at is not None


def test_flapping_service_is_not_restarted_in_a_loop(world):
    world.node("node1", N1, services=["web"])
    world.up(N1, ["web"])
    mon = world.monitor(max_attempts=1, max_restarts=50, restarts_per_hour=50,
                        remediation=True)
    mon.sweep()
    for i in range(24):
        world.clock.advance(minutes=10)
        if i % 2 == 0:
            world.stop(N1, "http")
        else:
            world.start(N1, "http")
        mon.sweep()
        mon.followup()
    (inc,) = incidents(mon)                                  # reopened, not 12 incidents
    k = kinds(inc)
    assert "flapping_start" in k and "reopened" in k
    flap_at = next(e.at for e in inc.events if e.kind == "flapping_start")
    restarts_after = [e for e in inc.events
                      if e.kind == "restart_requested" and e.at > flap_at]
    assert restarts_after == []
    assert 0 < len(world.jobs.submitted) < 12


def test_job_refused_by_the_job_engine_is_recorded_not_fatal(world):
    """No remediate_service.yml in this installation: the job engine refuses the job; the
    incident says so and is escalated; the sweep goes on."""
    from oemhost.monitor.engine import Monitor
    from oemhost.monitor.probes.pool import run_in_loop

    world.env.top["project_dir"] = str(world.env.root / "empty-project")
    world.node("node1", N1, services=["web"])
    world.up(N1, ["web"])
    mon = Monitor(world.env.settings(), clock=world.clock, sleep=lambda s: None,
                  prober=lambda c: run_in_loop(c))
    mon.sweep()
    world.stop(N1, "http")
    world.clock.advance(minutes=10)
    report = mon.sweep()
    assert report.opened
    (inc,) = incidents(mon)
    assert inc.escalated
    error = next(e.message for e in inc.events if e.kind == "remediation_error")
    assert "unknown playbook remediate_service.yml" in error


def test_results_are_pruned_after_retention(world):
    world.node("node1", N1, services=["web"])
    world.up(N1, ["web"])
    mon = world.monitor(retention_days=1)
    mon.sweep()
    old = world.clock.now - timedelta(days=2)
    with session_scope(mon.sessions) as s:
        s.add(MonitorProbeResult(node="node1", protocol="http", checked_at=old, status="ok",
                                 state_type="hard", attempt=1, message="old"))
    mon.followup()
    with session_scope(mon.sessions) as s:
        messages = s.scalars(select(MonitorProbeResult.message)).all()
    assert len(messages) == 3 and "old" not in messages


def test_sweep_through_the_prober_pool(world):
    """processes=2: the sweep goes through the prober pool and still stores every result."""
    world.node("node1", N1, services=["web"])
    world.node("node3", "10.200.3.33", services=["web"])
    world.up(N1, ["web"])
    world.up("10.200.3.33", ["web"])
    from oemhost.monitor.engine import Monitor

    world.env.monitor["processes"] = 2
    mon = Monitor(world.env.settings(), clock=world.clock, sleep=lambda s: None,
                  jobs=world.jobs)
    try:
        assert mon.sweep().checked == 6
    finally:
        shared_pool(2).close()   # its processes live in this test's network namespace
    with session_scope(mon.sessions) as s:
        assert s.scalar(select(func.count(MonitorCheckState.node))) == 6


def test_remediation_through_the_real_job_engine(world, tmp_path):
    """oemhost.jobs queues the restart; the monitor waits for the job, then verifies."""
    from oemhost.db.models.jobs import Job
    from oemhost.monitor.engine import Monitor
    from oemhost.monitor.probes.pool import run_in_loop

    project = tmp_path / "project"
    (project / "playbooks").mkdir(parents=True)
    (project / "playbooks" / "remediate_service.yml").write_text(
        "---\n- hosts: all\n  gather_facts: false\n  tasks: []\n")
    world.env.top["project_dir"] = str(project)
    world.node("node1", N1, services=["web"])
    world.up(N1, ["web"])
    mon = Monitor(world.env.settings(), clock=world.clock, sleep=lambda s: None,
                  prober=lambda c: run_in_loop(c))         # the real EngineJobs
    mon.sweep()
    world.stop(N1, "http", "https")
    world.clock.advance(minutes=10)
    mon.sweep()
    with session_scope(mon.sessions) as s:
        (job,) = s.scalars(select(Job))
        assert (job.kind, job.playbook, job.nodes, job.extravars, job.requested_by,
                job.status) == ("remediation", "remediate_service.yml", ["node1"],
                                {"oemhost_service": "apache2"}, "monitor", "queued")
        job_id = job.id
    world.clock.advance(seconds=30)
    mon.followup()                      # the job has not run: nothing to verify yet
    (inc,) = incidents(mon)
    assert inc.status == "open" and "restart_result" not in kinds(inc)
    world.start(N1, "http", "https")    # what the worker's playbook run does ...
    with session_scope(mon.sessions) as s:
        s.get(Job, job_id).status = "succeeded"   # ... and how the worker records it
    world.clock.advance(seconds=30)
    mon.followup()
    (inc,) = incidents(mon)
    assert inc.status == "recovered"
    assert [k for k in kinds(inc) if not k.startswith("notice")] == [
        "detected", "restart_requested", "restart_result", "check_recovered",
        "check_recovered", "recovered"]
