#!/usr/bin/env python3
"""Benchmark: the mail role on one lab node with 5,000 mailboxes (500 tenants x 10).

Prints the wall-clock time (and the controller's CPU time: ansible-playbook and its
workers, which does not grow with the machine's load) of
  1. the inventory's first parse (every state file validated, then cached),
  2. the first converge of the mail play (`site.yml --tags mail`),
  3. a no-op converge (targets: <= 30 s, changed=0),
  4. adding one mailbox through the store, then the tenant-scoped run (`--tags tenant`
     with `oemhost_tenant_scope`, what playbooks/tenant.yml runs; target <= 5 s),
  5. the same tenant-scoped run again (no-op).
Needs root (the lab). Usage: bench/bench_mail_converge.py [--tenants 500] [--per-tenant 10]
[--keep] (leave the lab up). The lab writes its node into a fresh store-managed inventory
and the tenants are written in the store's format; playbooks read it through the
project's plugins. The tenants' users and mail directories are made by a shell loop on
the node (a stand-in for role hosting_accounts, which is not on main yet).
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

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
from oemhost.store import Store, hashing, layout, validate, yamlio  # noqa: E402

BIN = Path(sys.executable).parent
LAB = "bench-mail"
ACTOR = "ops:bench"


def sh(*argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, text=True, capture_output=True, **kw)


def write_state(inv: Path, tenants: int, per_tenant: int) -> None:
    """Reseller, plan and tenants written as the store writes them, in one commit.

    (Adding 5,000 mailboxes one by one through the store would hash 5,000 passwords and
    make 5,000 commits; the files are the same. The mailbox added later goes through the
    store's API, as the panels do.)"""
    mail_hash = hashing.dovecot_hash(secrets.token_urlsafe(16))
    sys_hash = hashing.sha512_crypt(secrets.token_urlsafe(16))
    files = {
        layout.reseller_path("bench"): validate.check_reseller({
            "id": "bench", "company": "Bench K.K.", "contacts": ["noc@bench.example"],
            "brand": {"display_name": "Bench"},
            "limits": {"tenants": tenants, "disk_mb": 10**8, "oversell": True}})[0],
        layout.plan_path("bench", "basic"): validate.check_plan({
            "id": "basic", "reseller": "bench", "name": "Basic", "disk_mb": 2000,
            "default_web_mb": 1500, "max_domains": 3, "max_mailboxes": 50,
            "max_mailbox_mb": 500, "max_ftp_accounts": 3,
            "max_databases": {"mariadb": 2, "postgresql": 1}, "dns": True, "ssh": False,
            "mail": True, "mail_limits": {"per_hour": 200, "per_day": 2000}})[0],
    }
    for t in range(tenants):
        tid = f"bt{t:04d}"
        rec, errors = validate.check_tenant({
            "id": tid, "reseller": "bench", "plan": "basic", "node": "node1",
            "contractor": f"Bench {t}", "contract_date": "2026-04-01",
            "start_date": "2026-04-01", "contact_email": f"owner@{tid}.example",
            "disk": {"web_mb": 1500, "mail_mb": 500}, "password_hash": sys_hash,
            "domains": [{"name": f"{tid}.example", "aliases": []}],
            "mailboxes": [{"address": f"user{m:02d}@{tid}.example", "password_hash": mail_hash,
                           "quota_mb": 100 + m} for m in range(per_tenant)],
        })
        assert not errors, errors
        files[layout.tenant_path(tid)] = rec
    for rel, rec in files.items():
        path = inv / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(yamlio.dumps(rec))
    git = ["git", "-C", str(inv), "-c", "user.name=bench", "-c",
           "user.email=bench@oemhost.invalid"]
    sh(*git, "add", "-A", "state")
    sh(*git, "commit", "-qm", f"bench: {tenants} tenants")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str]) -> tuple[float, float, str]:
    """Wall-clock and controller CPU seconds of one command, and its output."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(PROJECT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
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
    parser.add_argument("--workdir", help="keep the inventory here (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inv = Path(args.workdir or tmp) / "inventory"
        oemhost = [str(BIN / "oemhost"), "lab", "--name", LAB, "--inventory", str(inv)]
        sh(*oemhost, "up", "--nodes", "1", "--reuse")
        try:
            write_state(inv, args.tenants, args.per_tenant)
            script = (
                f"for i in $(seq -f %04g 0 {args.tenants - 1}); do t=bt$i; "
                "getent passwd $t >/dev/null || "
                "useradd -U -M -d /srv/hosting/$t -s /usr/sbin/nologin $t; "
                "mkdir -p /srv/hosting/$t/mail; chown $t:$t /srv/hosting/$t/mail; "
                "chmod 0700 /srv/hosting/$t/mail; done")
            start = time.monotonic()
            sh(str(BIN / "oemhost"), "lab", "--name", LAB, "ssh", "node1", script,
               timeout=1800)
            print(f"stand-in tenant users: {args.tenants} in {time.monotonic() - start:.1f} s")
            figures = []
            took, cpu, _ = run([str(BIN / "ansible-inventory"), "-i", str(inv), "--list"])
            figures.append(("inventory parse (first --list)", took, cpu, "-"))
            figures.append(("first converge, mail play", *playbook(inv, "--tags", "mail")))
            figures.append(("no-op converge, mail play", *playbook(inv, "--tags", "mail")))
            Store(inv).add_mailbox("bt0000", "added@bt0000.example", secrets.token_urlsafe(16),
                                   100, actor=ACTOR, reason="bench")
            scope = ["-e", json.dumps({"oemhost_tenant_scope": ["bt0000"]})]
            figures.append(("add one mailbox, tenant-scoped",
                            *playbook(inv, "--tags", "tenant", *scope)))
            figures.append(("tenant-scoped again (no-op)",
                            *playbook(inv, "--tags", "tenant", *scope)))
            mailboxes = args.tenants * args.per_tenant
            print(f"mail role, {mailboxes} mailboxes ({args.tenants} tenants), one lab node, "
                  "store-managed inventory:")
            print(f"  {'':34s} {'wall':>8s} {'ctl CPU':>8s}   recap")
            for name, took, cpu, recap in figures:
                print(f"  {name:34s} {took:7.1f}s {cpu:7.1f}s   {recap}")
            print(f"  load average after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
                  "(the lab node shares them)")
        finally:
            if not args.keep:
                # the inventory is thrown away: do not ask the store to drop the node first
                sh(str(BIN / "oemhost"), "lab", "--name", LAB, "--inventory", "", "down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
