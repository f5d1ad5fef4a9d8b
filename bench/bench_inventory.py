"""Benchmark: the hosting state as inventory at 1,000 and 10,000 tenants over 20 nodes.

Prints, for each size:

- ``ansible-inventory --list`` on the oemhost inventory (cold: no parse cache; warm) and on
  the baseline: the same tenant data as plain per-host YAML (``host_vars/<node>.yml``
  holding that node's ``oemhost_tenants``, limits and brand resolved, as a role sees them);
- a one-node play (``--limit node01``, one task using ``oemhost_tenants``): the wall time of
  ``ansible-playbook``, the same for an inventory-less play (Ansible's own start-up), and
  the inventory load measured inside Python (InventoryManager + the node's variables);
- the store: ``get_tenant``, a paginated ``list_tenants`` page, a write
  (validate + write + commit) without and with password hashing, ``oemhost inventory check``.

Run: ``make bench`` or ``.venv/bin/python bench/bench_inventory.py [--sizes 1000,10000]``.
Timings are medians of several runs; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oemhost.store import Store, hashing, layout, validate, yamlio  # noqa: E402
from oemhost.store.snapshot import Snapshot  # noqa: E402

NODES = 20
RESELLERS = 5
PLANS_PER_RESELLER = 4
BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
       "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1"}

PLAY = """\
- name: One node
  hosts: all
  gather_facts: false
  connection: local
  tasks:
    - name: Use the node's tenants
      ansible.builtin.debug:
        msg: "{{ oemhost_tenants | length }} tenants"
"""
EMPTY_PLAY = PLAY.replace("{{ oemhost_tenants | length }} tenants", "hello")


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def median_time(fn, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (this process and its children) of ``fn``.

    On a shared machine the wall time grows with the load; the CPU time is what the work
    itself costs, close to the wall time of an otherwise idle machine."""
    walls, cpus = [], []
    for _ in range(runs):
        c0, t0 = _cpu(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu() - c0)
    return statistics.median(walls), statistics.median(cpus)


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


# --- generating an inventory ------------------------------------------------------------------

def build(inv: Path, tenants: int) -> Store:
    """An inventory with ``tenants`` tenants written as the store writes them, one commit."""
    store = Store.init(inv)
    hashes = {"sys": hashing.sha512_crypt("bench-password"),
              "mail": hashing.dovecot_hash("bench-password"),
              "mariadb": hashing.mariadb_native_hash("bench-password"),
              "postgresql": hashing.postgres_scram_sha256("bench-password")}
    files: dict[str, dict] = {}
    for r in range(RESELLERS):
        rid = f"reseller{r}"
        files[layout.reseller_path(rid)] = validate.check_reseller({
            "id": rid, "company": f"Reseller {r} K.K.", "contacts": [f"noc@{rid}.example"],
            "brand": {"display_name": f"Brand {r}", "panel_host": f"panel.{rid}.example"},
            "limits": {"tenants": tenants, "disk_mb": 10**8, "oversell": True}})[0]
        for p in range(PLANS_PER_RESELLER):
            files[layout.plan_path(rid, f"plan{p}")] = validate.check_plan({
                "id": f"plan{p}", "reseller": rid, "name": f"Plan {p}", "disk_mb": 2000 + p * 1000,
                "default_web_mb": 1500, "max_domains": 3, "max_mailboxes": 20,
                "max_mailbox_mb": 1000, "max_ftp_accounts": 3,
                "max_databases": {"mariadb": 2, "postgresql": 1}, "dns": True, "ssh": p > 1,
                "mail": True})[0]
    for n in range(NODES):
        name = f"node{n + 1:02d}"
        files[layout.node_path(name)] = validate.check_node({
            "name": name, "address": f"10.99.0.{n + 1}",
            "services": ["web", "mail", "ftp", "mariadb", "postgresql", "dns"],
            "infra": {"provider": "lab", "params": {"node": name}},
            "capacity": {"tenants": tenants, "disk_mb": 10**8}})[0]
    for i in range(tenants):
        tid = f"t{i:05d}"
        dom = f"{tid}.example.jp"
        domains = [{"name": dom, "aliases": [f"www.{dom}"]}]
        if i % 3 == 0:
            domains.append({"name": f"{tid}-shop.example.com", "docroot": f"public_html/{tid}-shop",
                            "aliases": []})
        rec = {
            "id": tid, "reseller": f"reseller{i % RESELLERS}", "plan": f"plan{i % 4}",
            "node": f"node{i % NODES + 1:02d}", "contractor": f"山田商店 {i}",
            "customer_number": f"C-{i:06d}", "contract_date": "2026-04-01",
            "start_date": "2026-04-05", "contact_email": f"owner@{dom}",
            "disk": {"web_mb": 1500, "mail_mb": 500}, "password_hash": hashes["sys"],
            "domains": domains,
            "mailboxes": [{"address": f"{box}@{dom}", "password_hash": hashes["mail"],
                           "quota_mb": 200} for box in ("info", "sales", "support")[: 1 + i % 3]],
            "ftp_accounts": [{"name": f"{tid}-upload", "password_hash": hashes["sys"],
                              "dir": "public_html/uploads"}],
            "databases": [{"engine": "mariadb", "name": f"{tid}_wp", "user": f"{tid}_wp",
                           "password_hash": hashes["mariadb"]}],
            "dns_records": [{"zone": dom, "name": "@", "type": "TXT",
                             "value": "v=spf1 mx -all"}],
        }
        norm, errors = validate.check_tenant(rec)
        assert not errors, errors
        files[layout.tenant_path(tid)] = norm
    for rel, rec in files.items():
        path = inv / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(yamlio.dumps(rec))
    run(["git", "add", "-A", "state"], inv)
    run(["git", "-c", "user.name=bench", "-c", "user.email=bench@oemhost.invalid", "commit",
         "-qm", f"bench: {tenants} tenants"], inv)
    return store


def build_baseline(inv: Path, base: Path) -> None:
    """The same data, as a role sees it, in plain host_vars files (one per node)."""
    snap = Snapshot(inv, use_cache=False)
    snap.refresh()
    (base / "host_vars").mkdir(parents=True)
    hosts = {}
    for name in sorted(snap.nodes):
        node = snap.node(name)
        hosts[name] = {"ansible_host": node["address"]}
        host_vars = {"oemhost_node": node, **snap.node_vars(name)}
        (base / "host_vars" / f"{name}.yml").write_bytes(yamlio.dumps(host_vars))
    (base / "hosts.yml").write_bytes(
        yamlio.dumps({"hosting_nodes": {"hosts": hosts}}))


# --- measurements ----------------------------------------------------------------------------

def inventory_load_in_python(inv: Path, node: str) -> tuple[float, float]:
    """InventoryManager over the source + the variables of one node, in a fresh process."""
    code = f"""
import time, sys
t0 = time.perf_counter()
from ansible import context
from ansible.module_utils.common.collections import ImmutableDict
context.CLIARGS = ImmutableDict()
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
from ansible.vars.manager import VariableManager
t1, c1 = time.perf_counter(), time.process_time()
loader = DataLoader()
im = InventoryManager(loader=loader, sources=[{str(inv)!r}])
vm = VariableManager(loader=loader, inventory=im)
hv = vm.get_vars(host=im.get_host({node!r}))
n = len(hv.get("oemhost_tenants", []))
print(time.perf_counter() - t1, time.process_time() - c1, n)
"""
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    return float(out[0]), float(out[1])


def bench_size(tenants: int, work: Path, runs: int) -> dict[str, tuple[float, float]]:
    inv, base = work / f"inv{tenants}", work / f"base{tenants}"
    t0 = time.perf_counter()
    store = build(inv, tenants)
    build_baseline(inv, base)
    gen = time.perf_counter() - t0
    play = work / "play.yml"
    play.write_text(PLAY)
    (work / "empty.yml").write_text(EMPTY_PLAY)
    res: dict[str, tuple[float, float]] = {"generate (s, not a target)": (gen, gen)}

    def inv_list(src: Path):
        return lambda: run([str(BIN / "ansible-inventory"), "-i", str(src), "--list",
                            "--output", str(work / "list.json")], work)

    shutil.rmtree(inv / layout.CACHE_DIR, ignore_errors=True)
    res["ansible-inventory --list, cold cache"] = median_time(inv_list(inv), 1)
    res["ansible-inventory --list"] = median_time(inv_list(inv), runs)
    size = (work / "list.json").stat().st_size / 1e6
    res["  --list output (MB)"] = (size, size)
    res["baseline host_vars: ansible-inventory --list"] = median_time(inv_list(base), 1)
    size = (work / "list.json").stat().st_size / 1e6
    res["  baseline --list output (MB)"] = (size, size)

    def one_node(src: Path, pb: Path):
        return lambda: run([str(BIN / "ansible-playbook"), "-i", str(src), "-l", "node01",
                            str(pb)], work)

    res["one-node play: ansible-playbook -l node01"] = median_time(one_node(inv, play), runs)
    res["baseline host_vars: ansible-playbook -l node01"] = median_time(one_node(base, play), 1)
    res["a play without inventory (Ansible start-up)"] = median_time(
        lambda: run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(work / "empty.yml")],
                    work), runs)
    loads = [inventory_load_in_python(inv, "node01") for _ in range(runs)]
    res["one-node play: inventory + node vars load"] = (
        statistics.median(x[0] for x in loads), statistics.median(x[1] for x in loads))
    res["baseline host_vars: inventory + node vars load"] = inventory_load_in_python(
        base, "node01")

    store = Store(inv)
    store.refresh()
    ids = [f"t{i:05d}" for i in range(0, tenants, max(tenants // 50, 1))]
    it = iter(ids * 100)
    res["store get_tenant"] = median_time(lambda: store.get_tenant(next(it)), 50)
    res["store list_tenants(node, page of 50)"] = median_time(
        lambda: store.list_tenants(node="node02", offset=100, limit=50), runs * 3)
    res["store list_tenants(search, page of 50)"] = median_time(
        lambda: store.list_tenants(q="山田商店 12", limit=50), runs * 3)
    counter = iter(range(10**6))
    res["store write: change_tenant (validate+write+commit)"] = median_time(
        lambda: store.change_tenant(ids[next(counter) % len(ids)],
                                    {"contractor": f"changed {next(counter)}"},
                                    actor="ops:bench"), 20)

    def password_write():
        tid = ids[next(counter) % len(ids)]
        store.set_mailbox_password(tid, f"info@{tid}.example.jp", "new-password-1",
                                   actor="ops:bench")

    res["store write: set_mailbox_password (+ hashing)"] = median_time(password_write, 10)
    fresh = [None]

    def cold_write():
        fresh[0] = Store(inv)
        fresh[0].change_tenant(ids[1], {"contractor": f"cold {next(counter)}"}, actor="ops:bench")

    res["store write: first write of a new Store (a CLI call)"] = median_time(cold_write, 3)
    res["oemhost inventory check"] = median_time(
        lambda: run([sys.executable, "-c",
                     "import sys, oemhost.cli as c; c.COMMAND_MODULES[:] = ['oemhost.store.cli'];"
                     f" sys.exit(c.main(['inventory', 'check', '-i', {str(inv)!r}]))"], ROOT),
        runs)
    return res


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="build the inventories here and keep them")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="inventory-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        for size in sizes:
            print(f"-- {size} tenants over {NODES} nodes ...", flush=True)
            results[size] = bench_size(size, work, args.runs)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    names = list(next(iter(results.values())))
    width = max(map(len, names)) + 2
    print(f"\nload average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("seconds, median: wall / CPU".ljust(width)
          + "".join(f"{f'{s:,} tenants':>22}" for s in sizes))
    for name in names:
        print(name.ljust(width) + "".join(
            f"{results[s][name][0]:>11.3f} /{results[s][name][1]:>8.3f}" for s in sizes))
    print("\ntargets (issue 3, at 10,000 tenants): --list < 3 s, one-node inventory load < 1 s, "
          "store write < 200 ms")
    print(json.dumps({str(k): v for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
