"""The reseller panel: plans, customers, logins, settings, tokens; every change is a store
commit, a queued job and an audit entry."""

from __future__ import annotations

import re

from webui_helpers import PASSWORD, Browser

PLAN = {"id": "pro", "name": "Pro", "disk_mb": "5000", "default_web_mb": "4000",
        "max_domains": "5", "max_mailboxes": "50", "max_mailbox_mb": "2000",
        "max_ftp_accounts": "3", "max_mariadb": "2", "max_postgresql": "1", "dns": "y",
        "mail": "y", "ftps_required": "y", "mail_per_hour": "100", "mail_per_day": "1000"}
CUSTOMER = {"id": "newshop", "password": "a-good-password", "contractor": "新しい店",
            "customer_number": "C-0099", "contact_email": "owner@newshop.example",
            "plan": "basic", "contract_date": "2026-11-01", "start_date": "2026-11-05",
            "domain": "newshop.example"}


def _jobs(app, tenant=None):
    from oemhost import jobs
    from webui.context import db

    with app.app_context():
        page = jobs.list_jobs(db(), {"tenant": tenant} if tenant else None, per_page=100)
        return [(j.kind, j.playbook, j.nodes, j.tenant_scope, j.requested_by,
                 j.inventory_commit) for j in page.items]


def _audit(app, action):
    from oemhost import accounts
    from webui.context import db

    with app.app_context():
        rows, _ = accounts.list_audit(db(), per_page=500)
        return [{"reseller": e.reseller, "commit": e.inventory_commit, "job": e.job_id,
                 "result": e.result, "actor": e.actor} for e in rows if e.action == action]


def test_plan_create_change_delete(app, as_):
    from webui.context import store

    b = as_("reseller_a")
    resp = b.post("/reseller/plans/new", PLAN)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    with app.app_context():
        plan = store().get_plan("acme", "pro")
        assert (plan.disk_mb, plan.max_databases.mariadb, plan.dns, plan.ssh) == \
            (5000, 2, True, False)
        assert plan.mail_limits.per_hour == 100
    assert _audit(app, "plan.add")[0]["reseller"] == "acme"
    # change: every attribute comes from the form
    resp = b.post("/reseller/plans/pro/edit", {**PLAN, "name": "Pro 2", "ssh": "y"})
    assert resp.status_code == 302
    with app.app_context():
        assert store().get_plan("acme", "pro").ssh is True
    # delete: refused while a customer uses the plan, allowed after
    assert b.post("/reseller/plans/basic/delete", page="/reseller/plans").status_code == 302
    page = b.get("/reseller/plans").get_data(as_text=True)
    assert "used by 1 tenant" in page
    with app.app_context():
        store().get_plan("acme", "basic")  # still there
    b.post("/reseller/plans/pro/delete", page="/reseller/plans")
    with app.app_context():
        assert [p.id for p in store().list_plans(reseller="acme")] == ["basic"]


def test_plan_form_errors_sit_next_to_fields_and_change_nothing(app, as_):
    from webui.context import store

    b = as_("reseller_a")
    with app.app_context():
        head = store().git.head()
    resp = b.post("/reseller/plans/new", {**PLAN, "default_web_mb": "9000",
                                          "mail_per_hour": "5000"})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert re.search(r'id="field-default_web_mb".*?class="error"', page, re.S)
    assert re.search(r'id="field-mail_per_hour".*?class="error"', page, re.S)
    with app.app_context():
        assert store().git.head() == head


def test_customer_create_queues_a_job_and_issues_login(app, as_):
    from webui.context import store

    b = as_("reseller_a")
    resp = b.post("/reseller/customers/new", CUSTOMER)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "a-good-password" in page, page[:3000]
    with app.app_context():
        t = store().get_tenant("newshop")
        assert (t.reseller, t.plan, t.contractor, t.customer_number, t.start_date) == \
            ("acme", "basic", "新しい店", "C-0099", "2026-11-05")
        assert [d.name for d in t.domains] == ["newshop.example"]
        assert "a-good-password" not in (store().root / "state/tenants/newshop.yml").read_text()
        head = store().git.head()
    jobs = _jobs(app, "newshop")
    assert jobs == [("provision", "tenant.yml", ["node1"], ["newshop"], "reseller:acme/admin",
                     head)]
    entry = _audit(app, "tenant.add")[0]
    assert entry["commit"] == head and entry["job"] is not None
    # the job is shown live with the credentials (a job-watch box polls its status)
    assert f'data-job="{entry["job"]}"' in page
    # the end user can log in with that password on the reseller's page
    enduser = Browser(app.test_client())
    enduser.login("newshop", "a-good-password", path="/r/acme/login")
    assert "新しい店" in enduser.get("/panel/").get_data(as_text=True)


def test_customer_list_search_sort_paginate(app, as_):
    from webui.context import store

    with app.app_context():
        st = store()
        for i in range(60):
            st.add_tenant({"id": f"cust{i:03d}", "reseller": "acme", "plan": "basic",
                           "contractor": f"Customer {59 - i:02d}",
                           "contact_email": f"c{i}@shop.example"},
                          password=PASSWORD, actor="lab")
    b = as_("reseller_a")
    page = b.get("/reseller/customers").get_data(as_text=True)
    assert "(61)" in page and "cust049" in page and "cust050" not in page
    assert 'rel="next"' in page
    page2 = b.get("/reseller/customers?page=2").get_data(as_text=True)
    assert "cust050" in page2 and "shop1" in page2
    found = b.get("/reseller/customers?q=Customer+07").get_data(as_text=True)
    assert "cust052" in found and "cust051" not in found
    by_name = b.get("/reseller/customers?sort=-contractor").get_data(as_text=True)
    assert by_name.index("山田商店") < by_name.index("cust000")
    # B's customers never show up in A's search
    assert "beta1" not in b.get("/reseller/customers?q=beta").get_data(as_text=True)


def test_customer_suspend_unsuspend_delete(app, as_):
    from webui.context import store

    b = as_("reseller_a")
    b.post("/reseller/customers/shop1/status", {"status": "suspended", "reason": "unpaid"},
           page="/reseller/customers/shop1")
    with app.app_context():
        t = store().get_tenant("shop1")
        assert (t.status, t.status_reason) == ("suspended", "unpaid")
    b.post("/reseller/customers/shop1/status", {"status": "active"},
           page="/reseller/customers/shop1")
    with app.app_context():
        assert store().get_tenant("shop1").status == "active"
    b.post("/reseller/customers/shop1/delete", page="/reseller/customers/shop1")
    with app.app_context():
        assert store().get_tenant("shop1").status == "removed"
    kinds = [(k, p) for k, p, *_ in _jobs(app, "shop1")]
    assert ("remove", "remove_tenant.yml") in kinds
    assert kinds.count(("provision", "tenant.yml")) == 2
    # the deleted customer's panel login no longer works
    enduser = Browser(app.test_client())
    resp = enduser.post("/r/acme/login", {"login": "shop1", "password": PASSWORD})
    assert resp.status_code == 200


def test_customer_edit(app, as_):
    from webui.context import store

    b = as_("reseller_a")
    resp = b.post("/reseller/customers/shop1/edit", {
        "contractor": "山田商店 本店", "customer_number": "", "contact_email": "new@shop1.example",
        "plan": "basic", "contract_date": "2026-10-01", "start_date": "2026-10-02"})
    assert resp.status_code == 302
    with app.app_context():
        t = store().get_tenant("shop1")
        assert (t.contractor, t.customer_number, t.contract_date) == \
            ("山田商店 本店", None, "2026-10-01")


def test_customer_panel_login_reset(app, as_):
    b = as_("reseller_a")
    resp = b.post("/reseller/customers/shop1/login", page="/reseller/customers/shop1")
    page = resp.get_data(as_text=True)
    new = re.search(r'class="secret password">([^<]+)<', page).group(1)
    enduser = Browser(app.test_client())
    assert enduser.post("/r/acme/login", {"login": "shop1", "password": PASSWORD}
                        ).status_code == 200
    enduser.login("shop1", new, path="/r/acme/login")


def test_settings_brand_and_tokens(app, as_):
    from webui.context import store

    b = as_("reseller_a")
    resp = b.post("/reseller/settings", {"company": "Acme K.K.", "contacts": "noc@acme.example",
                                         "display_name": "ACME Hosting",
                                         "logo_url": "", "primary_color": "#112233",
                                         "accent_color": "#445566", "locale": "en"})
    assert resp.status_code == 302
    with app.app_context():
        r = store().get_reseller("acme")
        assert (r.brand.display_name, r.brand.primary_color, r.locale) == \
            ("ACME Hosting", "#112233", "en")
        assert r.brand.panel_host == "panel.acme.example"  # not the reseller's to change
    bad = b.post("/reseller/settings", {"company": "Acme", "primary_color": "red;}body{",
                                        "accent_color": "#445566", "locale": "en"})
    assert bad.status_code == 200 and 'data-field="primary_color"' in bad.get_data(as_text=True)
    resp = b.post("/reseller/tokens", {"name": "billing"}, page="/reseller/settings")
    secret = re.search(r'class="secret token">([^<]+)<', resp.get_data(as_text=True)).group(1)
    api = app.test_client()
    assert api.get("/api/v1/plans", headers={"Authorization": f"Bearer {secret}"}
                   ).status_code == 200


def test_a_large_snapshot_is_moved_out_of_the_collectors_way(app, as_, monkeypatch):
    import gc

    from webui import context

    gc.unfreeze()
    monkeypatch.setattr(context, "FREEZE_TENANTS", 2)  # the test inventory has two tenants
    try:
        b = as_("reseller_a")
        assert b.get("/reseller/customers").status_code == 200
        assert gc.get_freeze_count() > 0
        assert app.extensions["oemhost_gc_frozen"] is True
    finally:
        gc.unfreeze()
