"""The resellers' JSON API: plans and customers, plan limits, errors, jobs, OpenAPI."""

from __future__ import annotations

import pytest


@pytest.fixture
def api(app):
    from oemhost import accounts
    from webui.context import db

    with app.app_context():
        _tok, secret = accounts.issue_token(db(), reseller="acme", name="billing",
                                            created_by="test")
        db().commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    class Api:
        def __getattr__(self, method):
            def call(url, **kw):
                return getattr(client, method)("/api/v1" + url, headers=headers, **kw)
            return call

    return Api()


def test_openapi_document_lists_every_api_route(app):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items()
                  for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi":
            path = rule.rule.removeprefix("/api/v1")
            for arg, name in (("plan_id", "plan_id"), ("tenant_id", "customer_id"),
                              ("job_id", "job_id")):
                path = path.replace(f"<{arg}>", "{" + name + "}").replace(
                    f"<int:{arg}>", "{" + name + "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method))
    assert routes == documented


def test_plans_crud(app, api):
    body = {"id": "api-plan", "name": "API", "disk_mb": 3000, "default_web_mb": 2000,
            "max_domains": 3, "max_mailboxes": 5, "max_mailbox_mb": 500,
            "max_databases": {"mariadb": 1, "postgresql": 0}, "dns": True}
    resp = api.post("/plans", json=body)
    assert resp.status_code == 201, resp.get_json()
    plan = resp.get_json()["plan"]
    assert plan["disk_mb"] == 3000 and plan["reseller"] == "acme"
    assert api.post("/plans", json=body).status_code == 409
    resp = api.patch("/plans/api-plan", json={"max_domains": 4, "version": plan["version"]})
    assert resp.status_code == 200 and resp.get_json()["plan"]["max_domains"] == 4
    # stale version
    assert api.patch("/plans/api-plan", json={"max_domains": 5, "version": plan["version"]}
                     ).status_code == 409
    assert api.delete("/plans/basic").status_code == 409  # used by shop1
    assert api.delete("/plans/api-plan").status_code == 200
    assert api.get("/plans/api-plan").status_code == 404
    resp = api.post("/plans", json={**body, "id": "bad", "default_web_mb": 9000})
    assert resp.status_code == 400 and "default_web_mb" in resp.get_json()["fields"]


def test_customer_lifecycle(app, api):
    from webui.context import store

    resp = api.post("/customers", json={
        "id": "apicust", "plan": "basic", "contractor": "API 商事",
        "contact_email": "billing@apicust.example", "customer_number": "B-7",
        "domains": ["apicust.example"]})
    assert resp.status_code == 201, resp.get_json()
    data = resp.get_json()
    assert len(data["password"]) >= 16 and data["job"]["id"]
    assert data["customer"]["domains"] == ["apicust.example"]
    assert "password_hash" not in str(data["customer"])
    job = api.get(f"/jobs/{data['job']['id']}").get_json()
    assert job["status"] == "queued" and job["customers"] == ["apicust"]
    found = api.get("/customers?q=商事").get_json()
    assert [c["id"] for c in found["items"]] == ["apicust"] and found["total"] == 1
    assert api.post("/customers/apicust/suspend", json={"reason": "unpaid"}
                    ).get_json()["customer"]["status"] == "suspended"
    assert api.post("/customers/apicust/unsuspend").get_json()["customer"]["status"] == \
        "active"
    resp = api.patch("/customers/apicust", json={"contractor": "API 商事 (株)"})
    assert resp.get_json()["customer"]["contractor"] == "API 商事 (株)"
    assert api.patch("/customers/apicust", json={"password_hash": "x"}).status_code == 400
    pw = api.post("/customers/apicust/panel-password").get_json()["password"]
    from webui_helpers import Browser

    Browser(app.test_client()).login("apicust", pw, path="/r/acme/login")
    assert api.delete("/customers/apicust").status_code == 200
    with app.app_context():
        assert store().get_tenant("apicust").status == "removed"


def test_plan_limits_hold_in_the_api(app, api):
    from webui.context import store

    # basic allows 2 domains
    resp = api.post("/customers", json={
        "id": "greedy", "plan": "basic", "contractor": "G", "contact_email": "g@g.example",
        "domains": ["a.example", "b.example", "c.example"]})
    assert resp.status_code == 400 and "domains" in str(resp.get_json()["fields"])
    with app.app_context():
        assert store().count_tenants(reseller="acme") == 1
    # a plan cannot be shrunk below what its customers use
    with app.app_context():
        store().add_domain("shop1", "second.example", actor="lab")
    resp = api.patch("/plans/basic", json={"max_domains": 1})
    assert resp.status_code == 400
    with app.app_context():
        assert store().get_plan("acme", "basic").max_domains == 2


def test_bad_requests(api):
    assert api.post("/customers", data="not json").status_code == 400
    assert api.get("/customers?limit=5000").status_code == 400
    assert api.get("/customers?status=weird").status_code == 400
    assert api.get("/customers/doesnotexist").status_code == 404
    assert api.get("/customers/..%2f..%2fetc").status_code == 404
    resp = api.post("/customers", json={"id": "x", "bogus": 1})
    assert resp.status_code == 400 and resp.get_json()["fields"] == {"bogus": "unknown field"}


def test_suspended_reseller_api_is_refused(app, api):
    from webui.context import store

    with app.app_context():
        store().change_reseller("acme", {"status": "suspended"}, actor="lab")
    assert api.get("/plans").status_code == 403
