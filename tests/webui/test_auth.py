"""Logins: realms, branded pages, throttling and lockout, sessions, CSRF, next, cookies."""

from __future__ import annotations

import pytest
from webui_helpers import PASSWORD, Browser


def test_provider_login_and_logout(browser):
    resp = browser.login("ops")
    assert resp.headers["Location"].endswith("/provider/")
    assert browser.get("/provider/").status_code == 200
    resp = browser.post("/logout", page="/provider/")
    assert resp.status_code == 302
    assert browser.get("/provider/").status_code == 302


def test_realms_are_separate(browser):
    # a reseller's staff cannot log in on the provider's page, nor on another reseller's
    for path, login in (("/login", "admin"), ("/r/beta/login", "shop1"),
                        ("/r/acme/login", "ops")):
        resp = browser.post(path, {"login": login, "password": PASSWORD})
        assert resp.status_code == 200
        assert "Wrong login ID or password." in resp.get_data(as_text=True) or \
            "ログインIDまたはパスワード" in resp.get_data(as_text=True)


def test_unknown_reseller_login_page_is_404(browser):
    assert browser.get("/r/nosuch/login").status_code == 404
    assert browser.get("/r/..%2f..%2fetc/login").status_code == 404


def test_branded_login_by_path_and_host(app, browser):
    page = browser.get("/r/acme/login").get_data(as_text=True)
    assert "Acme Web" in page and "/brand/acme.css" in page
    page = browser.client.get("/login", base_url="http://panel.beta.example").get_data(
        as_text=True)
    assert "Beta Web" in page
    # the end user of beta logs in on beta's host name
    b = browser.client
    browser.get("/login", base_url="http://panel.beta.example")
    resp = b.post("/login", base_url="http://panel.beta.example",
                  data={"login": "beta1", "password": PASSWORD, "csrf_token": browser.token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/panel/")


def test_brand_css_only_has_checked_colours(browser):
    css = browser.get("/brand/acme.css")
    assert css.mimetype == "text/css"
    assert "--brand-primary: #0055aa" in css.get_data(as_text=True)
    assert browser.get("/brand/nosuch.css").status_code == 404


def test_reseller_locale_makes_japanese_default(browser):
    page = browser.get("/r/acme/login").get_data(as_text=True)
    assert 'lang="ja"' in page and "ログイン" in page
    page = browser.get("/r/beta/login").get_data(as_text=True)
    assert 'lang="en"' in page and "Log in" in page
    page = browser.get("/r/acme/login?lang=en").get_data(as_text=True)
    assert 'lang="en"' in page


def test_lockout_after_repeated_failures(app, browser):
    from oemhost import accounts
    from webui.context import db

    for _ in range(5):
        resp = browser.post("/r/acme/login", {"login": "admin", "password": "wrong-password"})
        assert resp.status_code == 200
    resp = browser.post("/r/acme/login", {"login": "admin", "password": PASSWORD})
    assert resp.status_code == 200  # locked: even the right password is refused now
    text = resp.get_data(as_text=True)
    assert "locked" in text or "ロック" in text
    with app.app_context():
        user = accounts.find_user(db(), "r:acme", "admin")
        assert user.locked_until is not None
        refused = accounts.list_audit(db(), reseller="acme")[0]
        assert any(e.action == "login" and e.result == "refused" for e in refused)
        accounts.unlock(db(), user)
        db().commit()
    assert browser.post("/r/acme/login", {"login": "admin", "password": PASSWORD}
                        ).status_code == 302


def test_throttle_per_address(settings, browser):

    settings.raw["web"]["ip_max_failures"] = 3
    for i in range(3):
        browser.post("/login", {"login": f"nobody{i}", "password": "x" * 12})
    resp = browser.post("/login", {"login": "ops", "password": PASSWORD})
    assert resp.status_code == 429


def test_password_change_ends_other_sessions(app, as_):
    first = as_("reseller_a")
    second = as_("reseller_a")
    resp = second.post("/account/password", {"current": PASSWORD, "password": "a-new-password-1",
                                             "confirm": "a-new-password-1"})
    assert resp.status_code == 302
    assert second.get("/reseller/").status_code == 200  # the changing session stays in
    assert first.get("/reseller/").status_code == 302   # the other one is out


def test_csrf_is_required_on_every_post(app, as_):
    b = as_("reseller_a")
    for url in ("/reseller/plans/new", "/reseller/customers/shop1/status", "/logout",
                "/reseller/plans/basic/delete"):
        resp = b.client.post(url, data={"status": "suspended", "id": "x", "name": "x"})
        assert resp.status_code == 400, url
    from webui.context import store

    with app.app_context():
        assert store().get_tenant("shop1").status == "active"


@pytest.mark.parametrize("target,safe", [
    ("/reseller/plans", True), ("/reseller/customers?q=a", True),
    ("https://evil.example/", False), ("//evil.example/", False), ("/\\evil.example", False),
    ("http:/evil.example", False), ("javascript:alert(1)", False), ("", False),
])
def test_next_is_checked(browser, target, safe):
    browser.get("/r/acme/login")
    resp = browser.client.post("/r/acme/login", data={
        "login": "admin", "password": PASSWORD, "next": target, "csrf_token": browser.token})
    assert resp.status_code == 302
    loc = resp.headers["Location"]
    if safe:
        assert loc == target
    else:
        assert loc == "/reseller/"


def test_anonymous_is_sent_to_the_right_login_with_next(browser):
    resp = browser.get("/reseller/customers?q=x")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=/reseller/customers")


def test_session_cookie_flags(app, settings):
    from webui import create_app

    browser_client = app.test_client()
    browser_client.get("/login")
    from webui_helpers import Browser

    b = Browser(browser_client)
    resp = b.post("/login", {"login": "ops", "password": PASSWORD})
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # this test config is the http demo (cookie_secure=false)
    settings.raw["web"]["cookie_secure"] = True
    secure_app = create_app({"OEMHOST_SETTINGS": settings, "TESTING": True})
    assert secure_app.config["SESSION_COOKIE_SECURE"] is True
    assert secure_app.config["SESSION_COOKIE_HTTPONLY"] is True
    secure_app.extensions["oemhost_engine"].dispose()


def test_secret_key_comes_from_a_file(app, settings):
    key_file = settings.secrets_dir / "web-secret-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()


def test_security_headers(browser):
    resp = browser.get("/login")
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"


def test_provider_login_works_before_any_inventory_exists(tmp_path):
    from oemhost.config import Settings
    from webui import create_app

    settings = Settings(project_dir=tmp_path, inventory_dir=tmp_path / "none",
                        state_dir=tmp_path / "st",
                        database_url=f"sqlite:///{tmp_path / 'st' / 'db.sqlite'}",
                        raw={"web": {"cookie_secure": False}})
    app = create_app({"OEMHOST_SETTINGS": settings, "TESTING": True})
    with app.app_context():
        from oemhost import accounts
        from webui.context import db

        accounts.create_user(db(), kind="provider", login="ops", password=PASSWORD,
                             created_by="t")
        db().commit()
    b = Browser(app.test_client())
    assert b.get("/login").status_code == 200
    b.login("ops")
    assert b.get("/r/acme/login").status_code == 404
    app.extensions["oemhost_engine"].dispose()
