"""Fixtures of the panel tests: a real inventory (the store), a real SQLite database with
the migrations applied, the app, and logged-in clients of every kind.

Two resellers (``acme`` with Japanese panels and ``beta``), each with a plan and a
customer; a provider admin; logins for every kind. Jobs are queued through the real job
engine into the test database; no worker runs them here (the browser story does).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from webui_helpers import PASSWORD, Browser  # noqa: E402

from oemhost.config import Settings

TEST_PLAYBOOKS = ("site.yml", "tenant.yml", "remove_tenant.yml")


@pytest.fixture(scope="session", autouse=True)
def _catalogs():
    from webui.i18n import compile_catalogs

    compile_catalogs()


def make_inventory(root: Path):
    from oemhost.store import Store

    st = Store.init(root)
    st.put_node({"name": "node1", "address": "127.0.0.1",
                 "services": ["web", "mail", "ftp", "mariadb", "postgresql", "dns"],
                 "owner": "shared",
                 "infra": {"provider": "lab", "params": {"lab": "test", "node": "node1"}},
                 "capacity": {"tenants": 20000, "disk_mb": 100_000_000}},
                actor="lab", reason="test node")
    for rid, locale, host in (("acme", "ja", "panel.acme.example"),
                              ("beta", "en", "panel.beta.example")):
        st.add_reseller({"id": rid, "company": f"{rid.title()} K.K.", "locale": locale,
                         "contacts": [f"noc@{rid}.example"],
                         "brand": {"display_name": f"{rid.title()} Web",
                                   "logo_url": "", "primary_color": "#0055aa",
                                   "accent_color": "#ff8800", "panel_host": host},
                         "limits": {"tenants": 20000, "disk_mb": 100_000_000,
                                    "oversell": True}},
                        actor="lab", reason="test reseller")
        st.add_plan(rid, {"id": "basic", "name": "Basic", "disk_mb": 2000,
                          "default_web_mb": 1500, "max_domains": 2, "max_mailboxes": 2,
                          "max_mailbox_mb": 500, "max_ftp_accounts": 1,
                          "max_databases": {"mariadb": 1, "postgresql": 1}, "dns": True,
                          "ssh": True, "mail": True},
                    actor="lab", reason="test plan")
    st.add_tenant({"id": "shop1", "reseller": "acme", "plan": "basic", "node": "node1",
                   "contractor": "山田商店", "contact_email": "owner@shop1.example",
                   "domains": ["shop1.example"]}, password=PASSWORD, actor="lab")
    st.add_tenant({"id": "beta1", "reseller": "beta", "plan": "basic", "node": "node1",
                   "contractor": "Beta Customer", "contact_email": "owner@beta1.example",
                   "domains": ["beta1.example"]}, password=PASSWORD, actor="lab")
    return st


@pytest.fixture(scope="session")
def _inventory_template(tmp_path_factory):
    root = tmp_path_factory.mktemp("inventory-template") / "inv"
    make_inventory(root)
    return root


@pytest.fixture
def settings(tmp_path, _inventory_template) -> Settings:
    inv = tmp_path / "inventory"
    shutil.copytree(_inventory_template, inv, symlinks=True)
    project = tmp_path / "project"
    (project / "playbooks").mkdir(parents=True)
    for name in TEST_PLAYBOOKS:
        (project / "playbooks" / name).write_text("---\n- hosts: all\n  tasks: []\n")
    state = tmp_path / "state"
    return Settings(project_dir=project, inventory_dir=inv, state_dir=state,
                    database_url=f"sqlite:///{state / 'oemhost.db'}",
                    raw={"web": {"cookie_secure": False,
                                         # cheap argon2id: these tests hash a lot
                                         "argon2": {"time_cost": 1, "memory_kib": 1024,
                                                    "parallelism": 1}}})


@pytest.fixture
def app(settings):
    from webui import create_app

    app = create_app({"OEMHOST_SETTINGS": settings, "TESTING": True,
                      "SERVER_NAME": "localhost"})
    with app.app_context():
        from oemhost import accounts
        from webui.context import db

        sess = db()
        accounts.create_user(sess, kind="provider", login="ops", password=PASSWORD,
                             created_by="test")
        for rid in ("acme", "beta"):
            accounts.create_user(sess, kind="reseller", login="admin", password=PASSWORD,
                                 reseller=rid, created_by="test")
        accounts.create_user(sess, kind="enduser", login="shop1", password=PASSWORD,
                             reseller="acme", tenant="shop1", created_by="test")
        accounts.create_user(sess, kind="enduser", login="beta1", password=PASSWORD,
                             reseller="beta", tenant="beta1", created_by="test")
        sess.commit()
    yield app
    app.extensions["oemhost_engine"].dispose()


@pytest.fixture
def browser(app):
    return Browser(app.test_client())


def logged_in(app, who: str) -> Browser:
    b = Browser(app.test_client())
    if who == "provider":
        b.login("ops")
    elif who == "reseller_a":
        b.login("admin", path="/r/acme/login")
    elif who == "reseller_b":
        b.login("admin", path="/r/beta/login")
    elif who == "enduser_a":
        b.login("shop1", path="/r/acme/login")
    elif who == "enduser_b":
        b.login("beta1", path="/r/beta/login")
    return b


@pytest.fixture
def as_(app):
    return lambda who: logged_in(app, who)
