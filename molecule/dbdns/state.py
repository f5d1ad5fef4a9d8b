#!/usr/bin/env python3
"""Write the scenario's hosting state (the variables the inventory plugin gives a node).

Shaped exactly like docs/INVENTORY.md / docs/ARCHITECTURE.md (``oemhost_node``,
``oemhost_tenants`` with ``limits`` = the plan resolved, ``oemhost_removed_tenants``). The
database hashes are computed here from the known passwords in PASSWORDS, which the verify
playbook logs in with (they are written beside, to passwords.json, for it alone).
Usage: state.py NODE_ADDRESS OUTDIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from db_hash import mariadb_native_hash, postgres_scram_sha256  # noqa: E402

PASSWORDS = {
    "shop1_wp": "Shop1-wp-secret",
    "shop1_app": "Shop1-app-secret",
    "shop2_blog": "Shop2-blog-secret",
    "shop3_db": "Shop3-db-secret",
}

PLANS = {
    "basic": {"id": "basic", "reseller": "acme", "name": "Basic", "disk_mb": 2000,
              "default_web_mb": 1500, "max_domains": 3, "max_mailboxes": 20,
              "max_mailbox_mb": 1000, "max_ftp_accounts": 3,
              "max_databases": {"mariadb": 2, "postgresql": 1}, "dns": True, "ssh": False,
              "mail": True, "ftps_required": True,
              "mail_limits": {"per_hour": 200, "per_day": 2000}},
    "nodns": {"id": "nodns", "reseller": "acme", "name": "No DNS", "disk_mb": 1000,
              "default_web_mb": 1000, "max_domains": 1, "max_mailboxes": 0,
              "max_mailbox_mb": 0, "max_ftp_accounts": 0,
              "max_databases": {"mariadb": 1, "postgresql": 1}, "dns": False, "ssh": False,
              "mail": False, "ftps_required": True,
              "mail_limits": {"per_hour": 0, "per_day": 0}},
}
BRAND = {"display_name": "ACME Web", "logo_url": "", "primary_color": "#0055aa",
         "accent_color": "#ff8800", "panel_host": "panel.acme.example"}


def db(engine: str, name: str) -> dict:
    hasher = mariadb_native_hash if engine == "mariadb" else postgres_scram_sha256
    return {"engine": engine, "name": name, "user": name,
            "password_hash": hasher(PASSWORDS[name])}


def tenant(tid: str, plan: str, status: str, domains: list[dict], databases: list[dict],
           dns_records: list[dict]) -> dict:
    return {
        "id": tid, "reseller": "acme", "plan": plan, "node": "node1", "status": status,
        "contractor": f"{tid} 商店", "customer_number": None, "contract_date": "2026-11-01",
        "start_date": "2026-11-05", "contact_email": f"owner@{tid}.example",
        "disk": {"web_mb": 500, "mail_mb": 500}, "ssh": False,
        "password_hash": "$6$rounds=50000$saltsalt$" + "a" * 86,
        "domains": domains, "mailboxes": [], "ftp_accounts": [], "databases": databases,
        "dns_records": dns_records, "limits": PLANS[plan], "reseller_brand": BRAND,
    }


def domain(name: str, aliases: list[str]) -> dict:
    return {"name": name, "docroot": "public_html", "aliases": aliases,
            "tls": {"mode": "selfsigned"}, "https_redirect": False}


def main() -> None:
    address, outdir = sys.argv[1], Path(sys.argv[2])
    state = {
        "oemhost_node": {
            "name": "node1", "address": address, "services": ["mariadb", "postgresql", "dns"],
            "owner": "shared", "infra": {"provider": "lab", "params": {"node": "node1"}},
            "capacity": {"tenants": 500, "disk_mb": 200000},
        },
        "oemhost_tenants": [
            tenant("shop1", "basic", "active",
                   [domain("shop1.example", ["www.shop1.example", "blog.shop1.example"])],
                   [db("mariadb", "shop1_wp"), db("postgresql", "shop1_app")],
                   [{"zone": "shop1.example", "name": "@", "type": "TXT",
                     "value": "google-site-verification=abc123", "ttl": 3600},
                    {"zone": "shop1.example", "name": "_dmarc", "type": "TXT",
                     "value": "v=DMARC1; p=none", "ttl": 3600},
                    {"zone": "shop1.example", "name": "shop", "type": "CNAME",
                     "value": "shops.example.net.", "ttl": 600}]),
            tenant("shop2", "nodns", "active", [domain("shop2.example", ["www.shop2.example"])],
                   [db("mariadb", "shop2_blog"), db("postgresql", "shop2_blog")], []),
            tenant("shop3", "basic", "suspended", [domain("shop3.example", [])],
                   [db("mariadb", "shop3_db")], []),
        ],
        "oemhost_removed_tenants": [],
    }
    for name, data in (("state.json", state), ("passwords.json", PASSWORDS)):
        path = outdir / name
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1))
        path.chmod(0o600)


if __name__ == "__main__":
    main()
