"""The end-user panel: every change within the plan, each applied by a job of its own
tenant; plan limits hold."""

from __future__ import annotations

import re


def _tenant(app, tid="shop1"):
    from webui.context import store

    with app.app_context():
        return store().get_tenant(tid)


def _job_count(app):
    from oemhost import jobs
    from webui.context import db

    with app.app_context():
        return jobs.list_jobs(db(), {"tenant": "shop1"}).total


def test_domain_add_tls_remove_within_plan(app, as_):
    b = as_("enduser_a")
    resp = b.post("/panel/domains", {"name": "例え.jp", "tls": "acme", "https_redirect": "y"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    t = _tenant(app)
    dom = t.domains[1]
    assert (dom.name, dom.tls.mode, dom.https_redirect) == ("xn--r8jz45g.jp", "acme", True)
    assert _job_count(app) == 1
    page = b.get("/panel/domains").get_data(as_text=True)
    assert "例え.jp" in page and "job-watch" in page
    # the plan allows 2 domains: a third is refused next to the field, nothing changes
    resp = b.post("/panel/domains", {"name": "third.example", "tls": "selfsigned"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'data-field="name"' in page
    assert len(_tenant(app).domains) == 2 and _job_count(app) == 1
    b.post("/panel/domains/xn--r8jz45g.jp/tls", {"tls": "selfsigned"}, page="/panel/domains")
    assert _tenant(app).domains[1].tls.mode == "selfsigned"
    b.post("/panel/domains/xn--r8jz45g.jp/remove", page="/panel/domains")
    assert [d.name for d in _tenant(app).domains] == ["shop1.example"]
    assert _job_count(app) == 3


def test_mailbox_add_quota_forwards_password_remove(app, as_):
    from oemhost.store import hashing  # noqa: F401 - the store's hashes, checked below

    b = as_("enduser_a")
    form = {"local": "info", "domain": "shop1.example", "password": "mail-password-1",
            "confirm": "mail-password-1", "quota_mb": "400", "forwards": "boss@elsewhere.example"}
    assert b.post("/panel/mail", form).status_code == 302
    box = _tenant(app).mailboxes[0]
    assert (box.address, box.quota_mb, box.forwards) == ("info@shop1.example", 400,
                                                         ["boss@elsewhere.example"])
    assert box.password_hash.startswith("{SHA512-CRYPT}$6$")
    # quota over the plan's mailbox size: refused next to the field
    resp = b.post("/panel/mail", {**form, "local": "big", "quota_mb": "600"})
    assert resp.status_code == 200 and len(_tenant(app).mailboxes) == 1
    assert re.search(r'data-field="(quota_mb|local)"', resp.get_data(as_text=True))
    # edit quota, change password
    url = "/panel/mail/info@shop1.example"
    assert b.post(url, {"which": "edit", "edit-quota_mb": "300", "edit-forwards": ""}
                  ).status_code == 302
    assert _tenant(app).mailboxes[0].quota_mb == 300
    old = _tenant(app).mailboxes[0].password_hash
    assert b.post(url, {"which": "password", "pw-password": "another-pass-2",
                        "pw-confirm": "another-pass-2"}).status_code == 302
    assert _tenant(app).mailboxes[0].password_hash != old
    b.post(url + "/remove", page="/panel/mail")
    assert _tenant(app).mailboxes == []


def test_locked_mailbox_is_shown(app, as_):
    from webui.context import store

    with app.app_context():
        store().add_mailbox("shop1", "news@shop1.example", "mailbox-pw-1", 100, actor="lab")
        store().lock_mailbox("shop1", "news@shop1.example", "mass mail: 900/h",
                             actor="monitor")
    page = as_("enduser_a").get("/panel/mail").get_data(as_text=True)
    assert "mass mail: 900/h" in page


def test_ftp_and_database_within_plan(app, as_):
    b = as_("enduser_a")
    ftp = {"name": "up", "dir": "public_html/up", "password": "ftp-password-1",
           "confirm": "ftp-password-1"}
    assert b.post("/panel/ftp", ftp).status_code == 302
    acct = _tenant(app).ftp_accounts[0]
    assert (acct.name, acct.dir) == ("shop1-up", "public_html/up")
    # plan allows one additional FTP account
    resp = b.post("/panel/ftp", {**ftp, "name": "two"})
    assert resp.status_code == 200 and len(_tenant(app).ftp_accounts) == 1
    # directory outside the web area is refused
    resp = b.post("/panel/ftp/shop1-up", {"dir": "../../etc", "password": ""})
    assert resp.status_code == 200 and 'data-field="dir"' in resp.get_data(as_text=True)
    assert _tenant(app).ftp_accounts[0].dir == "public_html/up"

    db = {"engine": "mariadb", "name": "wp", "password": "db-password-1",
          "confirm": "db-password-1"}
    assert b.post("/panel/databases", db).status_code == 302
    assert b.post("/panel/databases", {**db, "engine": "postgresql"}).status_code == 302
    dbs = {(d.engine, d.name): d.password_hash for d in _tenant(app).databases}
    assert dbs[("mariadb", "shop1_wp")].startswith("*")
    assert dbs[("postgresql", "shop1_wp")].startswith("SCRAM-SHA-256$")
    # plan: 1 MariaDB database
    resp = b.post("/panel/databases", {**db, "name": "second"})
    assert resp.status_code == 200 and len(_tenant(app).databases) == 2


def test_disk_split_ssh_dns_system_password(app, as_):
    b = as_("enduser_a")
    assert b.post("/panel/disk", {"web_mb": "1200"}).status_code == 302
    t = _tenant(app)
    assert (t.disk.web_mb, t.disk.mail_mb) == (1200, 800)
    resp = b.post("/panel/disk", {"web_mb": "2500"})
    assert resp.status_code == 200 and _tenant(app).disk.web_mb == 1200
    b.post("/panel/ssh", {"ssh": "y"}, page="/panel/")
    assert _tenant(app).ssh is True
    records = "www CNAME @ 3600\n@ TXT \"v=spf1 mx -all\"\n@ MX 10 mail.shop1.example."
    assert b.post("/panel/dns?zone=shop1.example", {"records": records}).status_code == 302
    recs = {(r.name, r.type): r.value for r in _tenant(app).dns_records}
    assert recs[("@", "TXT")] == "v=spf1 mx -all"
    resp = b.post("/panel/dns?zone=shop1.example", {"records": "www A not-an-address"})
    assert resp.status_code == 200 and 'data-field="records"' in resp.get_data(as_text=True)
    assert len(_tenant(app).dns_records) == 3
    old = _tenant(app).password_hash
    assert b.post("/panel/system-password", {"password": "server-password-9",
                                             "confirm": "server-password-9"}
                  ).status_code == 302
    assert _tenant(app).password_hash != old


def test_ssh_refused_when_plan_has_none(app, as_):
    from webui.context import store

    with app.app_context():
        store().change_plan("acme", "basic", {"ssh": False}, actor="lab")
    b = as_("enduser_a")
    b.post("/panel/ssh", {"ssh": "y"}, page="/panel/")
    assert _tenant(app).ssh is False


def test_suspended_customer_cannot_change(app, as_):
    from webui.context import store

    with app.app_context():
        store().set_tenant_status("shop1", "suspended", actor="lab", reason="unpaid")
    b = as_("enduser_a")
    resp = b.post("/panel/domains", {"name": "more.example", "tls": "selfsigned"})
    assert resp.status_code == 200 and len(_tenant(app).domains) == 1
