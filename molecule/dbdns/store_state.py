#!/usr/bin/env python3
"""Put the scenario's hosting state into the lab's store-managed inventory.

The lab wrote node1 into the inventory (``oemhost lab --inventory DIR up``); this adds a
reseller, two plans and three tenants through the store's API (``oemhost.store.Store``),
exactly as the panels and the CLI do: passwords are given in clear to the store, which
keeps only the engine's hash (oemhost.store.hashing). The known passwords are written
beside, to passwords.json (0600), for verify.yml alone. The scenario's ephemeral directory
(and so this inventory) outlives ``molecule destroy``: tenants an earlier run left are
removed and purged first, so every run starts from the same state.

Usage: store_state.py INVENTORY_DIR OUTDIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from oemhost.store import Store

ACTOR = "lab"
PASSWORDS = {
    "shop1": "Shop1-system-secret", "shop2": "Shop2-system-secret",
    "shop3": "Shop3-system-secret",
    "shop1_wp": "Shop1-wp-secret", "shop1_app": "Shop1-app-secret",
    "shop2_blog": "Shop2-blog-secret", "shop3_db": "Shop3-db-secret",
}
RESELLER = {
    "id": "acme", "company": "ACME Hosting K.K.", "contacts": ["noc@acme.example"],
    "brand": {"display_name": "ACME Web", "panel_host": "panel.acme.example"},
    "limits": {"tenants": 100, "disk_mb": 100000, "oversell": False},
}
PLANS = [
    {"id": "basic", "name": "Basic", "disk_mb": 2000, "default_web_mb": 1500, "max_domains": 3,
     "max_mailboxes": 3, "max_mailbox_mb": 1000, "max_ftp_accounts": 2,
     "max_databases": {"mariadb": 2, "postgresql": 1}, "dns": True, "ssh": False,
     "mail": True},
    {"id": "nodns", "name": "No DNS", "disk_mb": 1000, "default_web_mb": 1000,
     "max_domains": 1, "max_mailboxes": 0, "max_mailbox_mb": 0, "max_ftp_accounts": 0,
     "max_databases": {"mariadb": 1, "postgresql": 1}, "dns": False, "ssh": False,
     "mail": False},
]
TENANTS = [
    # id, plan, domains (name, aliases), databases (engine, suffix), DNS records
    ("shop1", "basic", [("shop1.example", ["www.shop1.example", "blog.shop1.example"])],
     [("mariadb", "wp"), ("postgresql", "app")],
     [{"name": "@", "type": "TXT", "value": "google-site-verification=abc123", "ttl": 3600},
      {"name": "_dmarc", "type": "TXT", "value": "v=DMARC1; p=none", "ttl": 3600},
      {"name": "shop", "type": "CNAME", "value": "shops.example.net.", "ttl": 600}]),
    ("shop2", "nodns", [("shop2.example", ["www.shop2.example"])],
     [("mariadb", "blog"), ("postgresql", "blog")], []),
    ("shop3", "basic", [("shop3.example", [])], [("mariadb", "db")], []),
]


def main() -> None:
    inventory, outdir = Path(sys.argv[1]), Path(sys.argv[2])
    store = Store(inventory)
    if not any(r.id == "acme" for r in store.list_resellers()):
        store.add_reseller(RESELLER, actor=ACTOR, reason="molecule dbdns")
    have_plans = {p.id for p in store.list_plans("acme")}
    for plan in PLANS:
        if plan["id"] not in have_plans:
            store.add_plan("acme", plan, actor=ACTOR, reason="molecule dbdns")
    for old in store.list_tenants():
        if old.status != "removed":
            store.set_tenant_status(old.id, "removed", actor=ACTOR, reason="new molecule run")
        store.purge_tenant(old.id, actor=ACTOR, reason="new molecule run")
    for tid, plan, domains, databases, records in TENANTS:
        store.add_tenant({"id": tid, "reseller": "acme", "plan": plan, "node": "node1",
                          "contractor": f"{tid} 商店", "contact_email": f"owner@{tid}.example",
                          "contract_date": "2026-11-01", "start_date": "2026-11-05"},
                         password=PASSWORDS[tid], actor=ACTOR)
        for name, aliases in domains:
            store.add_domain(tid, name, aliases=aliases, actor=ACTOR)
        for engine, suffix in databases:
            store.add_database(tid, engine, suffix, PASSWORDS[f"{tid}_{suffix}"], actor=ACTOR)
        if records:
            store.set_dns_records(tid, domains[0][0], records, actor=ACTOR)
    store.set_tenant_status("shop3", "suspended", actor=ACTOR, reason="unpaid invoice")
    path = outdir / "passwords.json"
    path.write_text(json.dumps(PASSWORDS, indent=1))
    path.chmod(0o600)


if __name__ == "__main__":
    main()
