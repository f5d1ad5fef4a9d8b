#!/usr/bin/env python3
"""Benchmark: the mail role on one lab node with 5,000 mailboxes (500 tenants x 10).

Prints the wall-clock time (and the controller's CPU time: ansible-playbook and its
workers, which does not grow with the machine's load) of
  1. the first converge of the mail play (`site.yml --tags mail`),
  2. a no-op converge (targets: <= 30 s, changed=0),
  3. adding one mailbox to one tenant, tenant-scoped (`--tags tenant` with
     `oemhost_tenant_scope`, what playbooks/tenant.yml runs; target <= 5 s),
  4. the same tenant-scoped run again (no-op).
Needs root (the lab). Usage: bench/bench_mail_converge.py [--tenants 500] [--per-tenant 10]
[--keep] (leave the lab up). The tenants' users and mail directories are made by a shell
loop on the node (a stand-in for role hosting_accounts, which is not on main yet).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from passlib.hash import sha512_crypt

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LAB = "bench-mail"
# one Dovecot hash (of a random password) reused for every mailbox: only its form matters
HASH = "{SHA512-CRYPT}" + sha512_crypt.using(rounds=5000).hash(secrets.token_urlsafe(16))
PLAN = {"disk_mb": 2000, "default_web_mb": 1500, "max_domains": 3, "max_mailboxes": 50,
        "max_mailbox_mb": 1000, "max_ftp_accounts": 3,
        "max_databases": {"mariadb": 2, "postgresql": 1}, "dns": True, "ssh": False,
        "mail": True, "ftps_required": True, "mail_limits": {"per_hour": 200, "per_day": 2000}}


def tenants(count: int, per_tenant: int, extra: int = 0) -> list[dict]:
    out = []
    for t in range(count):
        tid = f"bt{t:04d}"
        boxes = per_tenant + (extra if t == 0 else 0)
        out.append({
            "id": tid, "reseller": "bench", "plan": "basic", "node": "node1",
            "status": "active", "limits": PLAN, "reseller_brand": {"display_name": "Bench"},
            "disk": {"web_mb": 1500, "mail_mb": 500},
            "domains": [{"name": f"{tid}.example", "docroot": "public_html", "aliases": [],
                         "tls": {"mode": "selfsigned"}}],
            "mailboxes": [{"address": f"user{m:02d}@{tid}.example", "password_hash": HASH,
                           "quota_mb": 100 + m, "forwards": [], "locked": None}
                          for m in range(boxes)],
        })
    return out


def inert(value):
    """Mark every string untrusted (never templated), as the inventory plugin's values are."""
    if isinstance(value, str):
        return {"__ansible_unsafe": value}
    if isinstance(value, list):
        return [inert(v) for v in value]
    if isinstance(value, dict):
        return {k: inert(v) for k, v in value.items()}
    return value


def write_inventory(directory: Path, status: dict, state: list[dict]) -> None:
    node = status["nodes"][0]
    hosts = {"all": {"children": {"hosting_nodes": {"hosts": {"node1": None}},
                                  "mail": {"hosts": {"node1": None}}}}}
    (directory / "hosts.yml").write_text(json.dumps(hosts))
    (directory / "host_vars").mkdir(exist_ok=True)
    host_vars = {
        "ansible_host": node["address"], "ansible_user": "root",
        "ansible_ssh_private_key_file": status["key_file"],
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={status['known_hosts']}",
        "oemhost_node": {"name": "node1", "services": ["mail"]},
        "oemhost_tenants": inert(state),
    }
    (directory / "host_vars" / "node1.json").write_text(json.dumps(host_vars))


def sh(*argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, text=True, capture_output=True, **kw)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str]) -> tuple[float, float, str]:
    """Wall-clock and controller CPU seconds of one command, and its output."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(PROJECT / "ansible.cfg")}
    cpu, start = children_cpu(), time.monotonic()
    proc = subprocess.run(argv, text=True, capture_output=True, env=env, cwd=PROJECT)
    took, cpu = time.monotonic() - start, children_cpu() - cpu
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return took, cpu, proc.stdout


def playbook(inventory: Path, *args: str) -> tuple[float, float, str]:
    took, cpu, out = run([str(BIN / "ansible-playbook"), "-i", str(inventory),
                          str(PROJECT / "playbooks/site.yml"), *args])
    recap = re.search(r"node1\s+:\s+(ok=\d+\s+changed=\d+)", out)
    return took, cpu, recap.group(1) if recap else "?"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--per-tenant", type=int, default=10)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    oemhost = [str(BIN / "oemhost"), "lab", "--name", LAB, "--inventory", ""]
    sh(*oemhost, "up", "--nodes", "1", "--reuse")
    try:
        status = json.loads(sh(*oemhost, "status", "--json").stdout)
        script = (
            f"for i in $(seq -f %04g 0 {args.tenants - 1}); do t=bt$i; "
            "getent passwd $t >/dev/null || "
            "useradd -U -M -d /srv/hosting/$t -s /usr/sbin/nologin $t; "
            "mkdir -p /srv/hosting/$t/mail; chown $t:$t /srv/hosting/$t/mail; "
            "chmod 0750 /srv/hosting/$t/mail; done")
        start = time.monotonic()
        sh(*oemhost, "ssh", "node1", script, timeout=1800)
        print(f"stand-in tenant users: {args.tenants} in {time.monotonic() - start:.1f} s")
        mailboxes = args.tenants * args.per_tenant
        with tempfile.TemporaryDirectory() as tmp:
            inv = Path(tmp)
            write_inventory(inv, status, tenants(args.tenants, args.per_tenant))
            figures = []
            took, cpu, _ = run([str(BIN / "ansible-inventory"), "-i", str(inv),
                                "--host", "node1"])
            figures.append(("inventory load alone", took, cpu, "-"))
            figures.append(("first converge, mail play", *playbook(inv, "--tags", "mail")))
            figures.append(("no-op converge, mail play", *playbook(inv, "--tags", "mail")))
            write_inventory(inv, status, tenants(args.tenants, args.per_tenant, extra=1))
            scope = ["-e", json.dumps({"oemhost_tenant_scope": ["bt0000"]})]
            figures.append(("add one mailbox, tenant-scoped",
                            *playbook(inv, "--tags", "tenant", *scope)))
            figures.append(("tenant-scoped again (no-op)",
                            *playbook(inv, "--tags", "tenant", *scope)))
        print(f"mail role, {mailboxes} mailboxes ({args.tenants} tenants), one lab node:")
        print(f"  {'':34s} {'wall':>8s} {'ctl CPU':>8s}   recap")
        for name, took, cpu, recap in figures:
            print(f"  {name:34s} {took:7.1f}s {cpu:7.1f}s   {recap}")
        print(f"  load average after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
              "(the lab node shares them)")
    finally:
        if not args.keep:
            sh(*oemhost, "down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
