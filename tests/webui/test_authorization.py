"""Every route, as every kind of user: who gets 200 / 302 / 401 / 403 / 404.

The route list comes from the application itself, so a new route without an entry here
fails the test. Objects of reseller A (acme: customer shop1) and of reseller B (beta:
customer beta1) are visited by: the provider, reseller A, reseller B, end user of A
(shop1) and anonymous. Writes across resellers are tried too, in the panels and the API,
and must change nothing.
"""

from __future__ import annotations

import pytest

WHO = ("anonymous", "provider", "reseller_a", "reseller_b", "enduser_a")

# values for URL parameters: (owned by A, owned by B)
PARAMS = {
    "reseller_id": ("acme", "beta"),
    "tenant_id": ("shop1", "beta1"),
    "plan_id": ("basic", "basic"),
    "name": ("node1", "node1"),
    "address": ("info@shop1.example", "info@beta1.example"),
    "engine": ("mariadb", "mariadb"),
    "user_id": (2, 3),
    "token_id": (1, 2),
    "filename": ("app.css", "app.css"),
}

PUBLIC = {"static", "auth.index", "auth.login", "auth.reseller_login", "auth.brand_css",
          "api.openapi"}


def expected(endpoint: str, who: str, owner: str) -> set[int]:
    """The statuses ``who`` may get on a GET of ``endpoint`` for an object of ``owner``
    ("a", "b", or None for a route that names no one's object)."""
    bp = endpoint.split(".", 1)[0]
    if endpoint in PUBLIC:
        if endpoint == "auth.index":
            return {302}
        if endpoint in ("auth.login", "auth.reseller_login") and who != "anonymous":
            return {200}
        return {200}
    if endpoint == "metrics.metrics":
        return {200}  # no session: loopback clients may scrape (the test client is 127.0.0.1)
    if bp == "api":
        return {401}  # no token in these requests: the API never takes a session cookie
    if who == "anonymous":
        return {302}
    kind = {"provider": "provider", "reseller_a": "reseller", "reseller_b": "reseller",
            "enduser_a": "enduser"}[who]
    mine = owner is None or {"provider": True, "reseller_a": owner == "a",
                             "reseller_b": owner == "b", "enduser_a": owner == "a"}[who]
    if bp == "provider":
        return {200} if kind == "provider" else {403}
    if bp == "reseller":
        if kind != "reseller":
            return {403}
        return {200} if mine else {404}
    if bp == "enduser":
        if kind != "enduser":
            return {403}
        return {200} if mine else {404}
    if endpoint == "jobs.cancel":  # the provider's alone
        return {200} if kind == "provider" else {403}
    if endpoint == "jobs.retry" and kind == "enduser":
        return {403}
    if bp == "jobs":
        return {200} if mine else {404}
    if bp == "auth":  # own password page
        return {200}
    raise AssertionError(f"no expectation for {endpoint}")


def _seed_objects(app):
    """Give both customers a mailbox, an FTP account, a database; queue a job each."""
    from webui.context import store

    with app.app_context():
        st = store()
        for tid, dom in (("shop1", "shop1.example"), ("beta1", "beta1.example")):
            st.add_mailbox(tid, f"info@{dom}", "mailbox-password", 100, actor="lab")
            st.add_ftp_account(tid, "up", "ftp-password-1", dir="public_html", actor="lab")
            st.add_database(tid, "mariadb", "wp", "db-password-1", actor="lab")


def _job_for(app, tenant: str) -> int:
    from oemhost import jobs
    from webui.context import db, settings

    with app.app_context():
        job = jobs.submit(db(), kind="provision", playbook="tenant.yml", nodes=["node1"],
                          tenant_scope=[tenant], requested_by="lab", reason="test",
                          settings=settings())
        db().commit()
        return job.id


def _urls(app):
    """(endpoint, url, owner) for every GET route, once for A's and once for B's object."""
    jobs = {"a": _job_for(app, "shop1"), "b": _job_for(app, "beta1")}
    out = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods:
                continue
            for owner, idx in (("a", 0), ("b", 1)):
                values = {}
                for arg in rule.arguments:
                    if arg == "job_id":
                        values[arg] = jobs[owner]
                    elif arg == "name" and rule.endpoint.startswith("enduser."):
                        values[arg] = ("shop1-up", "beta1-up")[idx]
                    elif arg == "name" and rule.endpoint == "enduser.database_password":
                        values[arg] = ("shop1_wp", "beta1_wp")[idx]
                    else:
                        assert arg in PARAMS, f"route {rule.rule}: add {arg} to PARAMS"
                        values[arg] = PARAMS[arg][idx]
                # plan "basic" exists for both resellers: a route naming only it is "own"
                owned = set(rule.arguments) - {"plan_id", "engine", "filename"}
                out.append((rule.endpoint, url_for(rule.endpoint, **values),
                            owner if owned else None))
                if not rule.arguments:
                    break
    return out


def test_every_route_as_everyone(app, as_):
    _seed_objects(app)
    urls = _urls(app)
    clients = {who: as_(who) for who in WHO if who != "anonymous"}
    clients["anonymous"] = app.test_client()
    problems = []
    for endpoint, url, owner in urls:
        if endpoint == "static":
            continue
        for who in WHO:
            client = clients[who]
            resp = client.get(url) if who == "anonymous" else client.client.get(url)
            want = expected(endpoint, who, owner)
            if resp.status_code not in want:
                problems.append(f"{who} GET {url}: {resp.status_code}, want {sorted(want)}")
            if resp.status_code == 302 and who == "anonymous":
                loc = resp.headers["Location"]
                if "/login" not in loc:
                    problems.append(f"anonymous GET {url}: redirect to {loc}")
    assert not problems, "\n".join(problems)


def test_api_routes_answer_json_401_without_token(app):
    client = app.test_client()
    for url in ("/api/v1/plans", "/api/v1/customers", "/api/v1/customers/shop1",
                "/api/v1/jobs/1"):
        resp = client.get(url)
        assert resp.status_code == 401
        assert resp.is_json and "error" in resp.get_json()


def test_wrong_kind_gets_json_403_when_asking_json(as_):
    b = as_("enduser_a")
    resp = b.client.get("/reseller/customers", headers={"Accept": "application/json"})
    assert resp.status_code == 403 and resp.get_json() == {"error": "forbidden"}


@pytest.mark.parametrize("url,data", [
    ("/reseller/customers/beta1/status", {"status": "suspended"}),
    ("/reseller/customers/beta1/delete", {}),
    ("/reseller/customers/beta1/login", {}),
    ("/reseller/customers/beta1/edit", {"contractor": "pwned", "contact_email": "a@b.example",
                                        "plan": "basic"}),
    ("/reseller/plans/zzz/delete", {}),
])
def test_reseller_cannot_write_other_resellers_objects(app, as_, url, data):
    from webui.context import store

    b = as_("reseller_a")
    with app.app_context():
        before = store().get_tenant("beta1").to_dict()
    b.get("/reseller/")
    resp = b.post(url, data, page=False)
    assert resp.status_code == 404
    with app.app_context():
        assert store().get_tenant("beta1").to_dict() == before


def test_enduser_cannot_touch_another_tenant(app, as_):
    from webui.context import store

    _seed_objects(app)
    b = as_("enduser_a")
    with app.app_context():
        before = store().get_tenant("beta1").to_dict()
    b.get("/panel/")
    for url in ("/panel/domains/beta1.example/remove", "/panel/mail/info@beta1.example/remove",
                "/panel/ftp/beta1-up/remove", "/panel/databases/mariadb/beta1_wp/remove",
                "/panel/domains/beta1.example/tls"):
        assert b.post(url, {"tls": "acme"}, page=False).status_code == 404, url
    with app.app_context():
        assert store().get_tenant("beta1").to_dict() == before


def test_api_token_sees_only_its_reseller(app):
    from oemhost import accounts
    from webui.context import db, store

    with app.app_context():
        _tok, secret = accounts.issue_token(db(), reseller="acme", name="billing",
                                            created_by="test")
        db().commit()
        before = store().get_tenant("beta1").to_dict()
    c = app.test_client()
    h = {"Authorization": f"Bearer {secret}"}
    ids = [t["id"] for t in c.get("/api/v1/customers", headers=h).get_json()["items"]]
    assert ids == ["shop1"]
    assert c.get("/api/v1/customers/beta1", headers=h).status_code == 404
    assert c.patch("/api/v1/customers/beta1", json={"contractor": "x"},
                   headers=h).status_code == 404
    assert c.post("/api/v1/customers/beta1/suspend", headers=h).status_code == 404
    assert c.delete("/api/v1/customers/beta1", headers=h).status_code == 404
    assert c.post("/api/v1/customers/beta1/panel-password", headers=h).status_code == 404
    # a customer "of" another reseller cannot be created through the body either
    resp = c.post("/api/v1/customers", headers=h, json={
        "id": "sneaky", "reseller": "beta", "plan": "basic", "contractor": "x",
        "contact_email": "x@sneaky.example"})
    assert resp.status_code == 400 and "reseller" in resp.get_json()["fields"]
    with app.app_context():
        assert store().get_tenant("beta1").to_dict() == before
        assert [t.id for t in store().list_tenants(reseller="beta")] == ["beta1"]


def test_revoked_token_is_refused(app):
    from oemhost import accounts
    from webui.context import db

    with app.app_context():
        tok, secret = accounts.issue_token(db(), reseller="acme", name="x", created_by="t")
        accounts.revoke_token(db(), "acme", tok.id)
        db().commit()
    c = app.test_client()
    assert c.get("/api/v1/plans", headers={"Authorization": f"Bearer {secret}"}
                 ).status_code == 401
    assert c.get("/api/v1/plans", headers={"Authorization": "Bearer oht_guess"}
                 ).status_code == 401


def test_forbidden_posts_change_nothing(app, as_):
    """Every POST route, by everyone who may not: refused (302 to login / 403 / 404), with
    a valid CSRF token, and neither the inventory nor the job queue changes."""
    from webui_helpers import Browser

    from oemhost import jobs
    from webui.context import db, store

    _seed_objects(app)
    job_ids = {"a": _job_for(app, "shop1"), "b": _job_for(app, "beta1")}
    with app.app_context():
        head = store().git.head()
        njobs = jobs.list_jobs(db()).total
    clients = {who: as_(who) for who in WHO if who != "anonymous"}
    anon = Browser(app.test_client())
    anon.get("/login")
    clients["anonymous"] = anon
    for b in clients.values():
        if b is not anon:
            b.get("/account/password")  # a CSRF token of that session
    posts = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if "POST" not in rule.methods or rule.endpoint.startswith("api."):
                continue
            for owner, idx in (("a", 0), ("b", 1)):
                values = {}
                for arg in rule.arguments:
                    if arg == "job_id":
                        values[arg] = job_ids[owner]
                    elif arg == "name" and rule.endpoint.startswith("enduser.ftp"):
                        values[arg] = ("shop1-up", "beta1-up")[idx]
                    elif arg == "name" and rule.endpoint.startswith("enduser.database"):
                        values[arg] = ("shop1_wp", "beta1_wp")[idx]
                    elif arg == "name" and rule.endpoint.startswith("enduser.domain"):
                        values[arg] = ("shop1.example", "beta1.example")[idx]
                    else:
                        values[arg] = PARAMS[arg][idx]
                owned = set(rule.arguments) - {"plan_id", "engine", "filename"}
                posts.append((rule.endpoint, url_for(rule.endpoint, **values),
                              owner if owned else None))
    problems = []
    for endpoint, url, owner in posts:
        if endpoint in PUBLIC or endpoint == "auth.logout":
            continue
        for who, b in clients.items():
            want = expected(endpoint, who, owner)
            if want & {200}:
                continue  # allowed: exercised by the panel tests
            resp = b.client.post(url, data={"csrf_token": b.token, "status": "suspended",
                                             "name": "x", "tls": "acme"})
            if resp.status_code not in want:
                problems.append(f"{who} POST {url}: {resp.status_code}, want {sorted(want)}")
    with app.app_context():
        assert store().git.head() == head
        assert jobs.list_jobs(db()).total == njobs
    assert not problems, "\n".join(problems)
