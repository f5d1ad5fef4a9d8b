#!/usr/bin/env python3
"""Put the scenario's hosting state into the lab's store-managed inventory.

Usage: make_state.py INVENTORY SECRETS_DIR

Through oemhost.store (the only writer of the inventory), as the panels would: a reseller,
four plans, five tenants (one whose plan has no mail, one suspended) with their domains
and mailboxes. Mailbox passwords are random; the store keeps only their hashes, and the
plaintext goes to SECRETS_DIR/passwords.json (0600, the scenario's ephemeral directory)
for the test clients. Running it again keeps the state and only sets new passwords when
that file is missing.
"""

from __future__ import annotations

import json
import os
import secrets
import sys

from oemhost.store import Store

ACTOR = "ops:molecule"
PLAN = {"disk_mb": 2000, "default_web_mb": 1500, "max_domains": 3, "max_mailboxes": 5,
        "max_mailbox_mb": 100, "max_ftp_accounts": 3,
        "max_databases": {"mariadb": 2, "postgresql": 1}, "dns": True, "ssh": False,
        "mail": True, "ftps_required": True, "mail_limits": {"per_hour": 50, "per_day": 500}}
PLANS = {
    "basic": PLAN,
    "small": {**PLAN, "disk_mb": 200, "default_web_mb": 100, "max_mailbox_mb": 10},
    "tight": {**PLAN, "disk_mb": 200, "default_web_mb": 100, "max_mailbox_mb": 20,
              "mail_limits": {"per_hour": 5, "per_day": 8}},
    "webonly": {**PLAN, "disk_mb": 200, "default_web_mb": 200, "max_mailboxes": 0,
                "max_mailbox_mb": 1, "mail": False},
}
# tenant -> plan, domains (name, tls mode), mailboxes (address, quota, forwards)
TENANTS = {
    "shop1": ("basic", [("shop1.example", "selfsigned"), ("shop1-alt.example", "own")],
              [("info@shop1.example", 50, []),
               ("sales@shop1.example", 50, ["info@cafe2.example"])]),
    "cafe2": ("small", [("cafe2.example", "selfsigned")],
              [("info@cafe2.example", 10, []), ("tiny@cafe2.example", 1, [])]),
    "bulk3": ("tight", [("bulk3.example", "selfsigned")], [("news@bulk3.example", 20, [])]),
    "nomail4": ("webonly", [("nomail4.example", "selfsigned")], []),
    "susp5": ("basic", [("susp5.example", "selfsigned")], [("owner@susp5.example", 20, [])]),
}


def password() -> str:
    return secrets.token_urlsafe(18)


def main(inventory: str, secrets_dir: str) -> int:
    store = Store(inventory)
    pw_file = os.path.join(secrets_dir, "passwords.json")
    if not store.list_resellers():
        store.add_reseller({
            "id": "acme", "company": "ACME Hosting K.K.", "status": "active",
            "contacts": ["noc@acme.example"], "locale": "ja",
            "brand": {"display_name": "ACME Web", "logo_url": "", "primary_color": "#0055aa",
                      "accent_color": "#ff8800", "panel_host": None},
            "limits": {"tenants": 100, "disk_mb": 100000, "oversell": False}}, actor=ACTOR)
        for pid, plan in PLANS.items():
            store.add_plan("acme", {"id": pid, "name": pid.title(), **plan}, actor=ACTOR)
    # the lab records every service; a domain needs `web` in the store's rules, so the
    # node keeps web and mail (the other roles have nothing to do here)
    node = store.get_node("node1").to_dict()
    if node["services"] != ["web", "mail"]:
        store.put_node({**node, "services": ["web", "mail"]}, actor=ACTOR)
    known = {t.id for t in store.list_tenants()}

    def tls_for(domain, mode):
        return {"mode": mode, "cert_ref": domain} if mode == "own" else {"mode": mode}

    passwords = {}
    if os.path.exists(pw_file):
        with open(pw_file) as f:
            passwords = json.load(f)
    for tid, (plan, domains, boxes) in TENANTS.items():
        if tid not in known:
            store.add_tenant({"id": tid, "reseller": "acme", "plan": plan, "node": "node1",
                              "contractor": f"{tid} K.K.", "contact_email": f"owner@{tid}.jp",
                              "domains": [{"name": d, "tls": tls_for(d, m)}
                                          for d, m in domains]},
                             password=password(), actor=ACTOR)
            for address, quota, forwards in boxes:
                passwords[address] = password()
                store.add_mailbox(tid, address, passwords[address], quota, forwards=forwards,
                                  actor=ACTOR)
        for address, _quota, _forwards in boxes:
            if address not in passwords:
                passwords[address] = password()
                store.set_mailbox_password(tid, address, passwords[address], actor=ACTOR)
    if store.get_tenant("susp5").to_dict()["status"] != "suspended":
        store.set_tenant_status("susp5", "suspended", actor=ACTOR, reason="molecule")
    fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(passwords, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
