"""Mass mail: a sender over its limit is locked once, its reseller told, others untouched.

A real store inventory (git), a real SMTP server (aiosmtpd), the monitor's database; the
job engine is the stand-in of the engine tests (what was submitted is asserted)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from oemhost.db import session_scope
from oemhost.db.models.monitor import MonitorIncident
from oemhost.jobs.results import RESULT_HANDLERS, RunInfo, deliver
from oemhost.monitor import db as monitor_db
from oemhost.monitor.massmail import handle_results, lock_senders, submit_mail_rate
from oemhost.store import Store

from .conftest import FakeJobs

RESELLER = {"id": "acme", "company": "ACME Hosting", "contacts": ["noc@acme.example"],
            "locale": "en", "brand": {"display_name": "ACME Web",
                                      "panel_host": "panel.acme.example"},
            "limits": {"tenants": 10, "disk_mb": 100000, "oversell": False}}
PLAN = {"id": "basic", "name": "Basic", "disk_mb": 2000, "default_web_mb": 1000,
        "max_domains": 3, "max_mailboxes": 5, "max_mailbox_mb": 100, "max_ftp_accounts": 1,
        "max_databases": {"mariadb": 1, "postgresql": 1}, "dns": False, "ssh": False,
        "mail": True, "mail_limits": {"per_hour": 5, "per_day": 50}}
OVER = {"sender": "bulk@shop1.example", "over_limit": True,
        "windows": [{"seconds": 3600, "limit": 5, "sent": 5, "over": True},
                    {"seconds": 86400, "limit": 50, "sent": 5, "over": False}]}


@pytest.fixture
def shop(env, monkeypatch):
    store = Store.init(env.inventory)
    store.add_reseller(RESELLER, actor="ops:test")
    store.add_plan("acme", PLAN, actor="ops:test")
    for name, address, services in (("node1", "192.0.2.10", ["web", "mail"]),
                                     ("node2", "192.0.2.11", ["web"])):
        store.put_node({"name": name, "address": address, "services": services,
                        "infra": {"provider": "command",
                                  "params": {"argv": ["/bin/true"]}},
                        "capacity": {"tenants": 100, "disk_mb": 100000}}, actor="ops:test")
    store.add_tenant({"id": "shop1", "reseller": "acme", "plan": "basic", "node": "node1",
                      "contractor": "Shop One", "contact_email": "owner@shop1.example",
                      "contract_date": "2026-11-01", "start_date": "2026-11-01",
                      "domains": ["shop1.example"]}, password="tenant-password-1",
                     actor="ops:test")
    for box in ("bulk", "info"):
        store.add_mailbox("shop1", f"{box}@shop1.example", "mailbox-pass-1", 10,
                          actor="ops:test")
    settings = env.settings()
    jobs = FakeJobs()
    monkeypatch.setattr("oemhost.monitor.massmail.EngineJobs", lambda _s: jobs)
    return store, settings, jobs


def mass_mail_incidents(settings):
    with session_scope(monitor_db.sessions(settings)) as s:
        rows = s.scalars(select(MonitorIncident).where(
            MonitorIncident.service == "mass_mail")).all()
        return [(i.status, [e.kind for e in i.events], [dict(e.data) for e in i.events])
                for i in rows]


def test_sender_over_limit_is_locked_once_and_reseller_told(shop, env, smtpd):
    store, settings, jobs = shop
    assert lock_senders(settings, "node1", ["bulk@shop1.example"],
                        {"bulk@shop1.example": OVER}) == ["bulk@shop1.example"]
    boxes = {b.address: b for b in store.get_tenant("shop1").mailboxes}
    assert boxes["bulk@shop1.example"].locked.by == "monitor"
    assert boxes["bulk@shop1.example"].locked.reason == "mass mail: 5/5 per hour"
    assert boxes["info@shop1.example"].locked is None          # others keep sending
    assert [(j["kind"], j["playbook"], j["nodes"], j["extravars"]) for j in jobs.submitted] == [
        ("mail_lock", "mail_lock.yml", ["node1"],
         {"oemhost_tenant": "shop1", "oemhost_mailbox": "bulk@shop1.example"})]
    (mail,) = smtpd.box.messages
    assert mail["to"] == ["noc@acme.example"]
    assert "bulk@shop1.example" in str(mail["msg"]["Subject"])
    assert "5/5 per hour" in mail["msg"].get_content()
    ((status, kinds, data),) = mass_mail_incidents(settings)
    assert status == "recovered"
    assert kinds == ["detected", "sender_locked", "notice_sent", "check_recovered",
                     "recovered"]
    assert data[1]["sender"] == "bulk@shop1.example" and data[1]["job"] == "1"
    # the next readings still show it over its limit: nothing more happens
    for _ in range(2):
        assert lock_senders(settings, "node1", ["bulk@shop1.example"]) == []
    assert len(jobs.submitted) == 1 and len(smtpd.box.messages) == 1
    assert len(mass_mail_incidents(settings)) == 1


def test_result_files_reach_the_handler_and_bad_ones_change_nothing(shop, env, smtpd,
                                                                   tmp_path):
    store, settings, jobs = shop
    assert RESULT_HANDLERS["mail_rate"] == "oemhost.monitor.massmail:handle_results"
    results = tmp_path / "results"
    results.mkdir()
    (results / "mail_rate--node1.json").write_text(json.dumps(
        {"node": "node1", "now": 0, "events": [], "senders": [OVER],
         "over_limit": ["bulk@shop1.example", "nobody@shop1.example",
                        "x@y\nBcc: evil@example.com"]}))
    (results / "mail_rate--node2.json").write_text(json.dumps(
        {"node": "node9", "over_limit": ["info@shop1.example"]}))   # not the run's node
    (results / "mail_rate--broken.json").write_text("{")
    run = RunInfo(1, "mail_rate", "mail_rate.yml", ["node1", "node2"], "successful")
    assert deliver(settings, run, results) == {"mail_rate": 3}
    locked = {b.address: b.locked for b in store.get_tenant("shop1").mailboxes}
    assert locked["bulk@shop1.example"] is not None
    assert locked["info@shop1.example"] is None
    assert len(jobs.submitted) == 1 and len(smtpd.box.messages) == 1
    handle_results(settings, run, [results / "mail_rate--node1.json"])   # again: once
    assert len(jobs.submitted) == 1


def test_watch_submits_one_low_priority_job_per_mail_node(shop):
    _store, settings, jobs = shop
    submit_mail_rate(settings, jobs=jobs)
    assert [(j["kind"], j["playbook"], j["nodes"]) for j in jobs.submitted] == [
        ("mail_rate", "mail_rate.yml", ["node1"])]
    assert jobs.submitted[0]["extravars"] == {"oemhost_mail_rate_since": 1200}
