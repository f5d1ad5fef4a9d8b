#!/usr/bin/env python3
"""Converge times of the mariadb, postgresql and dns roles for many tenants on one node.

Boots one lab node (lab ``bench-dbdns``), writes an inventory with N tenants (default 500),
each with one MariaDB and one PostgreSQL database and one domain whose plan includes DNS
(so 2N databases, 2N logins and N zones; hashes from oemhost.store.hashing; the records are
written as host_vars JSON, which is faster to make than N store commits and gives the roles
the same variables), and times with playbooks/site.yml:

0. ``--check --diff`` on the fresh node (must pass; the servers are not up yet);
1. the first converge of a fresh node (common + mariadb + postgresql + dns);
2. a no-op converge (must report changed=0);
3. a tenant-scoped converge after one tenant gets a new DNS record
   (``--tags tenant -e oemhost_tenant_scope=[...]``, what a panel change runs);
4. for comparison, a no-op loop of the collection module ansible.mariadb.mariadb_db over
   LOOP_ITEMS of those databases (what a per-tenant task would cost).

Prints the figures; asserts nothing about time. Needs root (the lab). Usage:
    .venv/bin/python bench/bench_dbdns.py [TENANTS]
The lab is removed at the end, also on failure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from oemhost.store.hashing import mariadb_native_hash, postgres_scram_sha256

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LAB = "bench-dbdns"
LOOP_ITEMS = 100

PLAN = {"id": "basic", "reseller": "acme", "name": "Basic", "disk_mb": 2000,
        "default_web_mb": 1500, "max_domains": 3, "max_mailboxes": 20, "max_mailbox_mb": 1000,
        "max_ftp_accounts": 3, "max_databases": {"mariadb": 2, "postgresql": 1}, "dns": True,
        "ssh": False, "mail": True, "ftps_required": True,
        "mail_limits": {"per_hour": 200, "per_day": 2000}}


def lab(*args: str, check: bool = True) -> str:
    proc = subprocess.run([str(BIN / "oemhost"), "lab", "--name", LAB, "--inventory", "",
                           *args], capture_output=True, text=True, cwd=ROOT)
    if check and proc.returncode:
        raise SystemExit(f"oemhost lab {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def tenants(n: int, address: str) -> list[dict]:
    maria = mariadb_native_hash("bench-password")
    out = []
    for i in range(n):
        tid = f"t{i:04d}"
        out.append({
            "id": tid, "reseller": "acme", "plan": "basic", "node": "node1",
            "status": "active", "contractor": f"Tenant {i}", "contact_email": f"o@{tid}.example",
            "disk": {"web_mb": 1000, "mail_mb": 1000}, "ssh": False,
            "domains": [{"name": f"{tid}.example", "docroot": "public_html",
                         "aliases": [f"www.{tid}.example"], "tls": {"mode": "selfsigned"}}],
            "mailboxes": [], "ftp_accounts": [],
            "databases": [
                {"engine": "mariadb", "name": f"{tid}_wp", "user": f"{tid}_wp",
                 "password_hash": maria},
                {"engine": "postgresql", "name": f"{tid}_app", "user": f"{tid}_app",
                 "password_hash": postgres_scram_sha256("bench-password")}],
            "dns_records": [{"zone": f"{tid}.example", "name": "@", "type": "TXT",
                             "value": f"site-verification={tid}", "ttl": 3600}],
            "limits": PLAN, "reseller_brand": {"display_name": "ACME"},
        })
    return out


def write_inventory(inv: Path, node: dict, key: str, state: list[dict]) -> None:
    (inv / "host_vars").mkdir(parents=True, exist_ok=True)
    hosts = {"all": {"children": {g: {"hosts": {"node1": {}}} for g in
                                  ("hosting_nodes", "mariadb", "postgresql", "dns")}}}
    hosts["all"]["children"]["hosting_nodes"]["hosts"]["node1"] = {
        "ansible_host": node["address"], "ansible_user": "root",
        "ansible_ssh_private_key_file": key}
    (inv / "hosts.yml").write_text(json.dumps(hosts))
    (inv / "host_vars" / "node1.json").write_text(json.dumps({
        "oemhost_node": {"name": "node1", "address": node["address"],
                         "services": ["mariadb", "postgresql", "dns"], "owner": "shared"},
        "oemhost_tenants": state, "oemhost_removed_tenants": []}))


def playbook(inv: Path, play: str, *extra: str) -> tuple[float, str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_roles,ansible.posix.profile_tasks",
               PROFILE_TASKS_TASK_OUTPUT_LIMIT="all")
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inv), play, *extra],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    took = time.monotonic() - start
    if proc.returncode:
        print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n")
        raise SystemExit(f"{play} failed ({proc.returncode})")
    return took, proc.stdout


def recap(out: str) -> str:
    m = re.search(r"node1\s+: (ok=\d+\s+changed=\d+)", out)
    return re.sub(r"\s+", " ", m.group(1)) if m else "?"


def roles(out: str) -> str:
    found = re.findall(r"^(common|mariadb|postgresql|dns) -+ (\d+\.\d+)s", out, re.M)
    return ", ".join(f"{r} {s} s" for r, s in found)


#: the batched tasks whose own time is worth seeing
BATCHED = re.compile(r"^(mariadb|postgresql|dns) : (Reconcile|Write, check and load|Check the "
                     r"tenants)[^-]*?-+ (\d+\.\d+)s", re.M)


def batched(out: str) -> str:
    label = {"Reconcile": "apply", "Write, check and load": "apply", "Check the tenants": "check"}
    return "; ".join(f"{role} {label[what]} {secs} s" for role, what, secs in BATCHED.findall(out))


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    site = str(ROOT / "playbooks" / "site.yml")
    try:
        lab("up", "--nodes", "1")
        status = json.loads(lab("status", "--json"))
        node = status["nodes"][0]
        with tempfile.TemporaryDirectory(prefix="bench-dbdns-") as tmp:
            inv = Path(tmp) / "inventory"
            state = tenants(n, node["address"])
            write_inventory(inv, node, status["key_file"], state)
            print(f"node1: {n} tenants, {2 * n} databases (MariaDB {n}, PostgreSQL {n}), "
                  f"{n} zones")

            print(f"(2 shared cores; {load()} at start)")
            took, out = playbook(inv, site, "--check", "--diff")
            print(f"check mode on the fresh node: {took:5.1f} s  ({recap(out)})")
            took, out = playbook(inv, site)
            print(f"first converge:  {took:7.1f} s  ({recap(out)}; {roles(out)})")
            print(f"    batched tasks: {batched(out)}")
            took, out = playbook(inv, site)
            print(f"no-op converge:  {took:7.1f} s  ({recap(out)}; {roles(out)})")
            print(f"    batched tasks: {batched(out)}")

            mid = state[n // 2]
            mid["dns_records"].append({"zone": mid["domains"][0]["name"], "name": "new",
                                       "type": "A", "value": "192.0.2.1", "ttl": 300})
            write_inventory(inv, node, status["key_file"], state)
            took, out = playbook(inv, site, "--tags", "tenant",
                                 "-e", json.dumps({"oemhost_tenant_scope": [mid["id"]]}))
            print(f"one tenant's DNS change, scoped (--tags tenant): {took:5.1f} s  "
                  f"({recap(out)}; {roles(out)})")
            print(f"    batched tasks: {batched(out)}")
            took, out = playbook(inv, site, "--tags", "tenant")
            print(f"tenant tasks only, unscoped no-op (--tags tenant): {took:5.1f} s  "
                  f"({recap(out)})")

            loop = Path(tmp) / "loop.yml"
            items = [d["name"] for t in state[:LOOP_ITEMS] for d in t["databases"]
                     if d["engine"] == "mariadb"]
            loop.write_text(json.dumps([{
                "name": "Per-item loop of the collection module", "hosts": "node1",
                "gather_facts": False,
                "tasks": [{"name": "Database exists", "ansible.mariadb.mariadb_db": {
                    "name": "{{ item }}", "state": "present",
                    "login_unix_socket": "/run/mysqld/mysqld.sock"},
                    "loop": items}]}]))
            took, out = playbook(inv, str(loop))
            print(f"comparison: ansible.mariadb.mariadb_db loop over {len(items)} existing "
                  f"databases: {took:.1f} s ({took / len(items):.2f} s/item, about "
                  f"{took / len(items) * 2 * n:.0f} s for {2 * n} databases before users "
                  f"and grants) ({recap(out)})")
            print(f"({load()} at the end)")
    finally:
        lab("down", check=False)


if __name__ == "__main__":
    main()
