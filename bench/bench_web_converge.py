"""Benchmark: converge the web side of a node (hosting_accounts, web, ftp) for many tenants.

For each size (tenants; two domains and one extra FTP account each) on a fresh lab node:

  * from scratch: `playbooks/site.yml --skip-tags common` on a node that has no tenant yet
    (its base, role common, is converged first and not timed);
  * no-op: the same again (must report changed=0);
  * tenant-scoped: one more tenant added, `playbooks/tenant.yml` with only it in scope;
  * baseline: one resource (a vhost file per tenant) written the per-item way, a
    `template` task with `loop:` over the tenants, from scratch and no-op; and the same
    resource batched (one template looping inside, one oemhost_files call).

Inventory data: generated directly as molecule-style host_vars (oemhost_tenants shaped
like docs/INVENTORY.md), not through the store's inventory plugin.

Needs root (it boots a lab node). Usage:
  python bench/bench_web_converge.py [--sizes 50,500,1000] [--baseline-sizes 50,500,1000]
The lab node shares the machine's CPUs: the load average is printed with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
LAB = "bench-web"

BASELINE_PLAYBOOK = """\
- name: Baseline, one task item per tenant (the style the roles avoid)
  hosts: web
  gather_facts: false
  vars:
    __web__sites: "{{ oemhost_tenants | oemhost_web_sites('/srv/hosting', '/etc/oemhost/tls') }}"
  tasks:
    - name: Make the baseline directory
      ansible.builtin.file:
        path: /etc/apache2/oemhost-baseline
        state: directory
        mode: "0755"
    - name: Write one vhost file per tenant with loop
      ansible.builtin.template:
        src: etc/apache2/oemhost/tenants/tenant.conf.j2
        dest: "/etc/apache2/oemhost-baseline/{{ site.id }}.conf"
        mode: "0644"
      loop: "{{ __web__sites }}"
      loop_control:
        loop_var: site
        label: "{{ site.id }}"
"""

# A calibration of the machine at the moment: the cost of one remote loop item.
CALIBRATION_PLAYBOOK = """\
- name: Calibration, trivial remote loop items
  hosts: web
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
      loop: "{{{{ range({items}) | list }}}}"
"""

# The same resource the way the roles do it: one template, one batched task.
BATCHED_PLAYBOOK = """\
- name: The same resource, batched (one template loops inside, one module call)
  hosts: web
  gather_facts: false
  vars:
    __web__sites: "{{ oemhost_tenants | oemhost_web_sites('/srv/hosting', '/etc/oemhost/tls') }}"
  tasks:
    - name: Write one vhost file per tenant in one task
      oemhost_files:
        root: /etc/apache2/oemhost-batched
        bundle: "{{ lookup('ansible.builtin.template', 'etc/apache2/oemhost/tenants.bundle.j2') }}"
"""


def lab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / "oemhost"), "lab", "--name", LAB, "--inventory", "",
                           *args], capture_output=True, text=True, check=check, cwd=PROJECT)


def password_hash() -> str:
    from passlib.hash import sha512_crypt

    return sha512_crypt.using(rounds=5000).hash("bench-password")


def tenant(i: int, pw: str) -> dict:
    tid = f"t{i:05d}"
    return {
        "id": tid, "reseller": "bench", "plan": "std", "node": "node1", "status": "active",
        "contractor": f"Bench {i}", "disk": {"web_mb": 80, "mail_mb": 20}, "ssh": i % 2 == 0,
        "password_hash": pw,
        "domains": [
            {"name": f"{tid}.example", "docroot": "public_html", "aliases": [f"www.{tid}.example"],
             "tls": {"mode": "selfsigned"}, "https_redirect": False},
            {"name": f"{tid}-shop.example", "docroot": "shop", "aliases": [],
             "tls": {"mode": "selfsigned"}, "https_redirect": i % 3 == 0},
        ],
        "ftp_accounts": [{"name": f"{tid}-up", "password_hash": pw, "dir": "public_html/up"}],
        "limits": {"disk_mb": 100, "default_web_mb": 80, "max_domains": 3, "max_mailboxes": 5,
                   "max_mailbox_mb": 20, "max_ftp_accounts": 2,
                   "max_databases": {"mariadb": 1, "postgresql": 0}, "dns": False,
                   "ssh": True, "mail": True, "ftps_required": True,
                   "mail_limits": {"per_hour": 100, "per_day": 1000}},
        "reseller_brand": {"display_name": "Bench"},
    }


def write_inventory(inv: Path, status: dict, tenants: list[dict]) -> None:
    node = status["nodes"][0]
    (inv / "host_vars").mkdir(parents=True, exist_ok=True)
    hosts = {"all": {"children": {
        "hosting_nodes": {"hosts": {"node1": {
            "ansible_host": node["address"], "ansible_user": "root",
            "ansible_ssh_private_key_file": status["key_file"],
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={status['known_hosts']}"}}},
        "web": {"hosts": {"node1": {}}}, "ftp": {"hosts": {"node1": {}}}}}}
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    data = {"oemhost_node": {"name": "node1", "services": ["web", "ftp"], "owner": "shared"},
            "oemhost_tenants": tenants, "oemhost_removed_tenants": []}
    # JSON is YAML; it is also much faster for Ansible to load than block YAML
    (inv / "host_vars" / "node1.yml").write_text(json.dumps(data))


RECAP = re.compile(r"node1\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def playbook(inv: Path, path: str, *extra: str) -> tuple[float, int]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"))
    start = time.monotonic()
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inv), path, *extra],
                          capture_output=True, text=True, env=env, cwd=PROJECT)
    took = time.monotonic() - start
    m = RECAP.search(proc.stdout)
    if proc.returncode != 0 or not m or m.group(4) != "0":
        sys.stderr.write(proc.stdout[-6000:] + proc.stderr[-2000:])
        raise SystemExit(f"{path} failed (rc {proc.returncode})")
    return took, int(m.group(2))


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def measure(size: int, baseline: bool, pw: str, emit) -> list[tuple]:
    rows = []

    def add(*row):
        rows.append(row)
        emit(row)

    lab("down", check=False)
    lab("up", "--nodes", "1")
    try:
        status = json.loads(lab("status", "--json").stdout)
        with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
            inv = Path(tmp) / "inventory"
            tenants = [tenant(i, pw) for i in range(size)]
            write_inventory(inv, status, tenants)
            cal1, cal21 = Path(tmp) / "cal1.yml", Path(tmp) / "cal21.yml"
            cal1.write_text(CALIBRATION_PLAYBOOK.format(items=1))
            cal21.write_text(CALIBRATION_PLAYBOOK.format(items=21))
            one, _ = playbook(inv, str(cal1))
            many, _ = playbook(inv, str(cal21))
            add(size, "calibration", "s per remote loop item", (many - one) / 20, 0, load())
            site = str(PROJECT / "playbooks" / "site.yml")
            # the node's base, as on every converged node (untimed): role common, which
            # also installs the bytecode cache of Ansible's module payloads
            playbook(inv, site, "--tags", "common")
            took, changed = playbook(inv, site, "--skip-tags", "common")
            add(size, "roles", "from scratch", took, changed, load())
            took, changed = playbook(inv, site, "--skip-tags", "common")
            add(size, "roles", "no-op", took, changed, load())
            write_inventory(inv, status, tenants + [tenant(size, pw)])
            took, changed = playbook(inv, str(PROJECT / "playbooks" / "tenant.yml"), "-e",
                                     json.dumps({"oemhost_tenant_scope": [f"t{size:05d}"]}))
            add(size, "roles", "one new tenant, scoped", took, changed, load())
            if baseline:
                # the templates the roles use, where a playbook beside them finds them
                tdir = Path(tmp) / "templates" / "etc" / "apache2" / "oemhost"
                (tdir / "tenants").mkdir(parents=True)
                src = PROJECT / "roles/web/templates/etc/apache2/oemhost"
                (tdir / "tenants.bundle.j2").write_text((src / "tenants.bundle.j2").read_text())
                (tdir / "tenants" / "tenant.conf.j2").write_text(
                    (src / "tenants" / "tenant.conf.j2").read_text())
                extra = ("-e", "web__suspended_root=/var/www/oemhost-suspended",
                         "-e", "web__suspended_status=403")
                for style, text in (("batched", BATCHED_PLAYBOOK),
                                    ("loop baseline", BASELINE_PLAYBOOK)):
                    book = Path(tmp) / f"{style.split()[0]}.yml"
                    book.write_text(text)
                    took, changed = playbook(inv, str(book), *extra)
                    add(size, style, "vhosts only, from scratch", took, changed, load())
                    took, changed = playbook(inv, str(book), *extra)
                    add(size, style, "vhosts only, no-op", took, changed, load())
    except BaseException:
        if os.environ.get("BENCH_KEEP_LAB"):  # to look at a failure; `lab down` it after
            print(f"lab {LAB} kept: oemhost lab --name {LAB} ssh node1 ...", flush=True)
        else:
            lab("down", check=False)
        raise
    lab("down", check=False)
    return rows


def loop_items(tenants: list[dict]) -> dict[str, int]:
    """The items a loop-style web side would iterate for these tenants: one per entry the
    roles' batched tasks take (the same filters shape them), one per vhost and pool file."""
    sys.path.insert(0, str(PROJECT / "plugins" / "filter"))
    import oemhost_hosting as f

    areas = sum(len(a["areas"]) for a in f.hosting_areas(tenants))
    return {"users": len(f.hosting_users(tenants)), "areas": areas,
            "web dirs": len(f.web_dirs(tenants, "/srv/hosting", "www-data")),
            "certificates": len(f.web_certificates(tenants)), "vhost files": len(tenants),
            "pools": len(tenants), "FTP logins": len(f.ftp_accounts(tenants, "/srv/hosting")),
            "FTP dirs": len(f.ftp_dirs(tenants, "www-data"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50,500,1000")
    ap.add_argument("--baseline-sizes", default="50,500,1000")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (boots a lab node)")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set, so every ansible-playbook run compiles "
              "the project's plugins again (~0.4 s a run); a deployment does not set it")
    baseline = {int(s) for s in args.baseline_sizes.split(",") if s}
    pw = password_hash()
    print("inventory: molecule-style host_vars generated by the benchmark "
          "(two domains + one FTP account per tenant)")
    print(f"{'tenants':>8} {'domains':>8}  {'style':<14} {'run':<26} {'seconds':>8} "
          f"{'changed':>8} {'load':>5}")
    results = []

    def emit(row):
        results.append(row)
        n, style, run, took, changed, ld = row
        print(f"{n:>8} {2 * n:>8}  {style:<14} {run:<26} {took:>8.2f} {changed:>8} "
              f"{ld:>5}", flush=True)

    for size in sizes:
        measure(size, size in baseline, pw, emit)
    def pick(n, style, run):
        return next((r[3] for r in results if r[:3] == (n, style, run)), None)

    for n in sizes:
        item = pick(n, "calibration", "s per remote loop item")
        ours = pick(n, "roles", "no-op")
        if item and ours:
            print(f"{n} tenants: no-op = {ours / item:.0f} remote loop items' worth "
                  f"(at 0.2 s per item: {ours / item * 0.2:.1f} s); a loop over one resource "
                  f"costs {n} items")
        loop = pick(n, "loop baseline", "vhosts only, no-op")
        batched = pick(n, "batched", "vhosts only, no-op")
        if ours and loop:
            print(f"{n} tenants: no-op of the whole web side (accounts, quotas, web, ftp) "
                  f"{ours:.1f} s vs {loop:.1f} s for ONE resource in loop style "
                  f"({loop / ours:.1f}x)")
        if batched and loop:
            print(f"{n} tenants: the vhost resource alone, batched {batched:.1f} s vs loop "
                  f"{loop:.1f} s ({loop / batched:.1f}x)")
        if ours and (loop or item):
            # the whole web side in loop style: every item the batched tasks take, each a
            # loop item; at the vhost loop's measured cost per item where it ran, else at
            # the calibration's (a ping: the cheapest item there is, so a lower bound)
            items = loop_items([tenant(i, pw) for i in range(n)])
            per = loop / n if loop else item
            how = "the vhost loop's measured" if loop else "the calibration's (lower bound)"
            total = sum(items.values())
            print(f"{n} tenants: the whole web side in loop style would iterate {total} items "
                  f"({', '.join(f'{k} {v}' for k, v in items.items())}); at {how} "
                  f"{per:.2f} s per item a no-op takes ~{total * per:.0f} s, the roles' "
                  f"no-op {ours:.1f} s ({total * per / ours:.0f}x; estimate: the loop "
                  f"style is measured for one resource only)")

if __name__ == "__main__":
    main()
