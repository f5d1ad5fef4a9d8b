"""``oemhost demo seed``: a demo provider admin, reseller (with a brand), plan and end user.

Idempotent: what exists is kept (the inventory gets no new commit on a second run). The
three logins get fresh passwords on every run and are printed: passwords are kept only
as hashes, so the only way to show them again is to set new ones (or pass your own with
``OEMHOST_DEMO_PASSWORD``).
"""

from __future__ import annotations

import os

from oemhost.errors import NotFoundError, OemhostError

RESELLER = "demo"
PLAN = "standard"
TENANT = "demo1"
ACTOR = "lab"


def register(sub) -> None:
    p = sub.add_parser("demo", help="demo data for the panels")
    dsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = dsub.add_parser("seed", help="seed a demo provider admin, reseller, plan and end user "
                                     "and print their logins (idempotent)")
    s.add_argument("--url", default=None,
                   help="base URL of the panels (default: [web] public_url, else "
                        "http://<[web] bind>, else http://127.0.0.1:8080)")
    s.set_defaults(func=_seed)


def seed(settings, *, password: str | None = None) -> dict[str, dict[str, str]]:
    """Create what is missing; return ``{"provider"|"reseller"|"enduser": {"login",
    "password", "path"}}``."""
    from oemhost import accounts
    from oemhost.db import make_engine, migrate, session_factory
    from oemhost.store import Store

    try:
        store = Store(settings.inventory_dir)
    except NotFoundError:
        store = Store.init(settings.inventory_dir)
    nodes = [n for n in store.list_nodes() if "web" in n.services]
    if not nodes:
        raise OemhostError(f"no web node in {settings.inventory_dir}: boot the lab first "
                           "(oemhost lab up)")
    try:
        store.get_reseller(RESELLER)
    except NotFoundError:
        store.add_reseller({
            "id": RESELLER, "company": "デモホスティング株式会社", "locale": "ja",
            "contacts": ["noc@demo-hosting.example"],
            "brand": {"display_name": "Demo Hosting", "logo_url": "",
                      "primary_color": "#0b6e4f", "accent_color": "#f2a541",
                      "panel_host": "panel.demo-hosting.example"},
            "limits": {"tenants": 1000, "disk_mb": 1_000_000, "oversell": False}},
            actor=ACTOR, reason="demo seed")
    try:
        store.get_plan(RESELLER, PLAN)
    except NotFoundError:
        store.add_plan(RESELLER, {
            "id": PLAN, "name": "スタンダード", "disk_mb": 2000, "default_web_mb": 1500,
            "max_domains": 3, "max_mailboxes": 20, "max_mailbox_mb": 500,
            "max_ftp_accounts": 3, "max_databases": {"mariadb": 2, "postgresql": 1},
            "dns": True, "ssh": True, "mail": True}, actor=ACTOR, reason="demo seed")
    new_tenant = False
    logins = {kind: password or accounts.generate_password()
              for kind in ("provider", "reseller", "enduser")}
    try:
        tenant = store.get_tenant(TENANT)
    except NotFoundError:
        store.add_tenant({"id": TENANT, "reseller": RESELLER, "plan": PLAN,
                          "node": nodes[0].name, "contractor": "山田商店",
                          "customer_number": "D-0001", "contact_email": "owner@demo1.example",
                          "domains": ["demo1.example"]},
                         password=logins["enduser"], actor=ACTOR, reason="demo seed")
        tenant = store.get_tenant(TENANT)
        new_tenant = True
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as s:
            for kind, login, reseller, tid in (("provider", "admin", None, None),
                                               ("reseller", "admin", RESELLER, None),
                                               ("enduser", TENANT, RESELLER, TENANT)):
                user = accounts.find_user(s, accounts.realm_of(kind, reseller), login)
                if user is None:
                    accounts.create_user(s, kind=kind, login=login, password=logins[kind],
                                         reseller=reseller, tenant=tid,
                                         display_name="Demo", created_by="lab")
                else:
                    accounts.set_password(s, user, logins[kind])
                    accounts.set_active(s, user, True)
            if new_tenant:
                _queue_tenant_job(s, settings, tenant)
            s.commit()
    finally:
        engine.dispose()
    return {"provider": {"login": "admin", "password": logins["provider"], "path": "/login"},
            "reseller": {"login": "admin", "password": logins["reseller"],
                         "path": f"/r/{RESELLER}/login"},
            "enduser": {"login": TENANT, "password": logins["enduser"],
                        "path": f"/r/{RESELLER}/login"}}


def _queue_tenant_job(session, settings, tenant) -> None:
    try:
        from oemhost import jobs

        jobs.submit(session, kind="provision", playbook="tenant.yml", nodes=[tenant.node],
                    tenant_scope=[tenant.id], requested_by=ACTOR, reason="demo seed",
                    settings=settings)
    except (ImportError, OemhostError) as exc:
        print(f"note: the demo customer is in the inventory but no job was queued ({exc}); "
              "a full converge applies it")


def _seed(args, settings) -> int:
    web = settings.section("web")
    base = (args.url or web.get("public_url")
            or f"http://{web.get('bind') or '127.0.0.1:8080'}").rstrip("/")
    logins = seed(settings, password=os.environ.get("OEMHOST_DEMO_PASSWORD") or None)
    titles = {"provider": "Provider (ops) panel", "reseller": "Reseller panel (Demo Hosting)",
              "enduser": "End-user panel (demo1)"}
    for kind, info in logins.items():
        print(f"{titles[kind]}: {base}{info['path']}  login {info['login']}  "
              f"password {info['password']}")
    return 0
