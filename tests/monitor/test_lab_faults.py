"""Fault injection on a real, converged lab node (marker ``lab``: root needed).

One node, converged once for the module (site.yml, one tenant with a domain, mailboxes
and a database in each engine). The monitor runs with a short interval (5 s) and drives
real jobs of the job engine (remediate_service.yml, mail_rate.yml, mail_lock.yml); mail
goes through the node's own Postfix and is read over IMAPS. Nothing here asserts timings.
"""

from __future__ import annotations

import os
import smtplib
import time

import pytest
from sqlalchemy import select

from oemhost.db import session_scope
from oemhost.db.models.monitor import MonitorInfraAction

from .lab_support import (
    BULK,
    KILL_UNITS,
    NODE,
    OPS,
    PASSWORD,
    RESELLER_CONTACT,
    converged_site,
    kill_command,
    subjects,
    tls_context,
)

pytestmark = pytest.mark.lab
SERVICE_UNITS = {"web": {"apache2"}, "mail": {"postfix", "dovecot"}, "ftp": {"pure-ftpd"},
                 "mariadb": {"mariadb"}, "postgresql": {"postgresql"}}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root (the lab boots nodes)")
    with converged_site(tmp_path_factory.mktemp("faults"), "pytest-monitor") as s:
        yield s


@pytest.fixture(autouse=True)
def own_incidents(monkeypatch):
    """Each test's faults open incidents of their own: in production a service failing
    again within 30 minutes reopens its recovered incident (one budget, one notice, one
    report), which would merge this module's tests into each other's incidents."""
    from datetime import timedelta

    monkeypatch.setattr("oemhost.monitor.incidents.REOPEN_WITHIN", timedelta(0))


def all_ok(mon) -> bool:
    from oemhost.monitor.queries import status_board

    with session_scope(mon.sessions) as s:
        (node,) = status_board(s, [NODE])
        return all(c.status == "ok" for c in node.checks)


def test_monitoring_logins_work_on_the_converged_node(site):
    """The probes log in to MariaDB and PostgreSQL with what the database roles wrote."""
    mon = site.monitor()
    results = {r.protocol: r for r in mon.prober(mon.checks(mon.nodes([NODE]).values()))}
    assert len(results) == 13
    bad = {p: r.message for p, r in results.items() if r.status != "ok"}
    assert bad == {}
    assert "query ok" in results["mysql"].message
    assert "query ok" in results["postgresql"].message


def test_every_killed_unit_is_restarted_verified_and_closed(site):
    mon = site.monitor()
    base = site.last_incident_id(mon)
    site.drive(mon, lambda: all_ok(mon), timeout=60, what="every check OK before the kill")
    site.ssh(kill_command(*KILL_UNITS))
    time.sleep(2)
    ports = site.ssh("ss -Hltn", check=False)
    assert not any(f":{p} " in ports for p in (80, 25, 143, 21, 3306, 5432)), ports

    def closed() -> bool:
        incs = site.incidents(mon, base)
        pending = [u for i in incs for u in (i.remediation or {}).get("units", {}).values()
                   if u.get("state") == "pending"]       # restart results not recorded yet
        return (len(incs) >= len(SERVICE_UNITS) and all(i.status == "recovered" for i in incs)
                and not pending and all_ok(mon))

    site.drive(mon, closed, timeout=420, what="all incidents closed")
    incs = {i.service: i for i in site.incidents(mon, base)}
    assert set(incs) == set(SERVICE_UNITS)
    for service, inc in incs.items():
        kinds = [e.kind for e in inc.events]
        assert kinds[0] == "detected", (service, kinds)
        assert kinds.count("recovered") == 1 and "escalated" not in kinds, (service, kinds)
        requested = {e.data["unit"] for e in inc.events if e.kind == "restart_requested"}
        assert requested == SERVICE_UNITS[service], (service, kinds)
        ok = {e.data["unit"] for e in inc.events if e.kind == "restart_result" and e.data["ok"]}
        assert ok == SERVICE_UNITS[service], (service, kinds)
        assert kinds.index("restart_requested") < kinds.index("recovered")
        assert inc.started_at <= inc.detected_at < inc.recovered_at
    active = site.ssh("systemctl is-active apache2 postfix@- dovecot pure-ftpd mariadb "
                      "postgresql@15-main", check=False)
    assert active.split() == ["active"] * 6


def test_outage_past_the_notice_threshold_mails_each_audience_once(site):
    """Remediation off: the FTP server stays down past notice_after; ops and the reseller
    each get exactly one notice in their real mailboxes, then one report at recovery."""
    mon = site.monitor(remediation=False, notice_after=12, report_send="immediately")
    base = site.last_incident_id(mon)
    before_ops, before_res = len(subjects(site.address, OPS)), len(
        subjects(site.address, RESELLER_CONTACT))
    site.drive(mon, lambda: all_ok(mon), timeout=60, what="every check OK first")
    site.ssh(kill_command("pure-ftpd"))
    try:
        def noticed() -> bool:
            incs = site.incidents(mon, base)
            return bool(incs) and incs[0].notice_sent_at is not None

        site.drive(mon, noticed, timeout=120, what="the notice")
        for _ in range(5):                      # more sweeps and follow-ups: no second one
            mon.sweep()
            mon.followup()
            time.sleep(1)
    finally:
        site.ssh("systemctl start pure-ftpd")
    site.drive(mon, lambda: site.incidents(mon, base)[0].report_sent_at is not None,
               timeout=120, what="the report")
    (inc,) = site.incidents(mon, base)
    assert inc.service == "ftp" and inc.status == "recovered"
    time.sleep(3)                               # local delivery
    for box, before in ((OPS, before_ops), (RESELLER_CONTACT, before_res)):
        new = subjects(site.address, box)[before:]
        mine = [s for s in new if f"#{inc.id}" in s]
        assert len([s for s in mine if "Failure notice" in s]) == 1, (box, new)
        assert len([s for s in mine if "Failure report" in s]) == 1, (box, new)


def _send(address: str, login: str, to: str, n: int) -> list[str]:
    """Submit ``n`` one-recipient mails as ``login``; the refusals' replies."""
    refused = []
    with smtplib.SMTP(address, 587, timeout=30) as smtp:
        smtp.starttls(context=tls_context())
        smtp.login(login, PASSWORD)
        for i in range(n):
            try:
                smtp.sendmail(login, [to], f"From: {login}\r\nTo: {to}\r\n"
                              f"Subject: note {i}\r\n\r\nhello {i}\r\n")
            except smtplib.SMTPRecipientsRefused as exc:
                refused.append(str(exc.recipients[to]))
    return refused


def test_sender_past_the_hourly_limit_is_locked_and_the_reseller_told(site):
    from oemhost import jobs
    from oemhost.store import Store

    before = len(subjects(site.address, RESELLER_CONTACT))
    refused = _send(site.address, BULK, OPS, 7)            # plan: 5 recipients an hour
    assert refused and "oemhost-rate-limit" in refused[0]
    with site.factory() as s:
        job = jobs.submit(s, kind="mail_rate", playbook="mail_rate.yml", nodes=[NODE],
                          requested_by="test", reason="mass-mail watch",
                          settings=site.settings)
        s.commit()
        assert jobs.wait(s, job.id, timeout=300).status == "succeeded"
    box = {b.address: b for b in Store(site.inventory).get_tenant("shop1").mailboxes}
    assert box[BULK].locked is not None and box[BULK].locked.by == "monitor"
    assert box[OPS].locked is None
    with site.factory() as s:
        (lock,) = jobs.list_jobs(s, {"kind": "mail_lock"}).items
        assert jobs.wait(s, lock.id, timeout=300).status == "succeeded"
    # locked: even one recipient is refused; another mailbox of the tenant still sends
    refused = _send(site.address, BULK, OPS, 1)
    assert refused and "oemhost-locked" in refused[0]
    assert _send(site.address, OPS, RESELLER_CONTACT, 1) == []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = subjects(site.address, RESELLER_CONTACT)[before:]
        if any("Mailbox locked" in s for s in new):
            break
        time.sleep(1)
    assert len([s for s in new if "Mailbox locked" in s and BULK in s]) == 1, new
    # the next reading finds it still over its limit: no second lock, job or mail
    with site.factory() as s:
        job = jobs.submit(s, kind="mail_rate", playbook="mail_rate.yml", nodes=[NODE],
                          requested_by="test", reason="again", settings=site.settings)
        s.commit()
        assert jobs.wait(s, job.id, timeout=300).status == "succeeded"
        assert len(jobs.list_jobs(s, {"kind": "mail_lock"}).items) == 1


def test_crashed_node_is_rebooted_by_the_lab_provider_and_comes_back(site):
    """`lab crash` kills the container (its network namespace stays: the address still
    answers ping, every port refuses). Level 1 cannot log in, level 2 finds no sshd and
    the lab provider power-cycles the node, once; its services come back."""
    mon = site.monitor(reboot_window=120)
    base = site.last_incident_id(mon)
    site.lab.crash(NODE)

    def back() -> bool:
        incs = site.incidents(mon, base)
        return bool(incs) and all(i.status == "recovered" for i in incs) and all_ok(mon)

    site.drive(mon, back, timeout=300, what="the node back with its services")
    incs = site.incidents(mon, base)
    events = [e for i in incs for e in i.events]
    reboots = [e for e in events if e.kind == "reboot_requested"]
    assert len(reboots) == 1 and "via lab" in reboots[0].message, [e.kind for e in events]
    assert any(e.kind == "ssh_failed" for e in events)
    assert any(e.kind == "reboot_result" and e.data.get("ok") for e in events)
    assert all(i.status == "recovered" for i in incs)
    assert site.ssh("systemctl is-system-running --wait", check=False).strip() in (
        "running", "degraded")


def test_network_cut_ends_in_an_incident_with_notices_not_a_reboot_storm(site, smtpd):
    """The node's network stays cut: at most one reboot in the window, then the incident
    stays open, escalated, with its notice (through a relay that is not on the node)."""
    mon = site.monitor(notice_after=10, reboot_window=3600)
    mon.notifier._mailer_factory = lambda: _relay(smtpd)
    base = site.last_incident_id(mon)
    smtpd.box.clear()
    site.lab.cut(NODE)
    try:
        def settled() -> bool:
            incs = site.incidents(mon, base)
            return bool(incs) and incs[0].escalated and incs[0].notice_sent_at is not None

        site.drive(mon, settled, timeout=240, what="escalation and notice")
        for _ in range(10):
            mon.sweep()
            mon.followup()
            time.sleep(1)
        (inc,) = site.incidents(mon, base)
        assert inc.service == "host" and inc.status == "open"
        with session_scope(mon.sessions) as s:
            reboots = s.scalars(select(MonitorInfraAction).where(
                MonitorInfraAction.node == NODE,
                MonitorInfraAction.requested_at >= inc.started_at.replace(
                    tzinfo=inc.started_at.tzinfo) - _hour())).all()
        assert len(reboots) <= 1
        kinds = [e.kind for e in inc.events]
        assert kinds.count("reboot_requested") <= 1
        assert ("reboot_requested" in kinds) != ("reboot_skipped" in kinds)
        notices = [m for m in smtpd.box.messages if "Failure notice" in str(m["msg"]["Subject"])]
        assert len(notices) == 2      # ops and the reseller, once each
    finally:
        site.lab.restore(NODE)
    site.drive(mon, lambda: site.incidents(mon, base)[0].status == "recovered",
               timeout=180, what="recovery after the network is back")


def _hour():
    from datetime import timedelta
    return timedelta(hours=1)


def _relay(smtpd):
    from oemhost.notify import Mailer, SmtpConfig

    return Mailer(SmtpConfig.from_settings({"host": smtpd.host, "port": smtpd.plain_port,
                                            "security": "none",
                                            "from_addr": "monitor@provider.example",
                                            "from_name": "Provider NOC"}))
