"""The lab boots real Debian 12 nodes and leaves nothing behind (issue #2)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from oemhost.config import PROJECT_DIR
from oemhost.lab import Lab
from oemhost.lab.lab import _nspawn_pids, _pid_alive

pytestmark = pytest.mark.lab


def leftovers(lab: Lab) -> list[str]:
    """Every trace of the lab on this machine: processes, netns, links, mounts, loops."""
    found = []
    found += [f"netns {ns}" for ns in subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
        if ns.startswith(lab.prefix)]
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True,
                                      text=True).stdout)
    found += [f"link {ln['ifname']}" for ln in links if ln["ifname"].startswith(lab.prefix)]
    with open("/proc/self/mountinfo") as f:
        found += [f"mount {ln.split()[4]}" for ln in f if str(lab.dir) in ln.split()[4]]
    loops = json.loads(subprocess.run(["losetup", "--list", "--json"], capture_output=True,
                                      text=True).stdout or "{}")
    found += [f"loop {d['name']}" for d in loops.get("loopdevices", [])
              if str(lab.dir) in (d.get("back-file") or "")]
    found += [f"process {p}" for p in _nspawn_pids(f"--machine={lab.prefix}-")
              if _pid_alive(p)]
    return found


@pytest.fixture
def lab():
    lab = Lab(PROJECT_DIR, "pytest-lab", inventory_dir=None)
    lab.down(progress=lambda _m: None)
    yield lab
    lab.down(progress=lambda _m: None)
    assert leftovers(lab) == []


def test_up_reach_break_restart_down(lab, oemhost_cli):
    args = ["lab", "--name", lab.name, "--inventory", ""]
    up = oemhost_cli(*args, "up", "--nodes", "2", check=True)
    assert "2 node(s) up" in up.stdout
    st = json.loads(oemhost_cli(*args, "status", "--json", check=True).stdout)
    assert st["up"] and [n["name"] for n in st["nodes"]] == ["node1", "node2"]
    assert st["nodes"][0]["address"] != st["nodes"][1]["address"]

    # each node runs its own systemd, has its own /srv on btrfs, and reaches the other
    for node in ("node1", "node2"):
        out = lab.ssh(node, "hostname; systemctl is-system-running --wait; "
                      "findmnt -no FSTYPE /srv", check=True).stdout.split()
        assert out[0] == node and out[1] in ("running", "degraded") and out[2] == "btrfs"
    other = st["nodes"][1]["address"]
    assert lab.ssh("node1", f"ping -c1 -W2 {other}").returncode == 0

    # a second `up` is refused with one line and leaves the running lab alone
    again = oemhost_cli(*args, "up", "--nodes", "2")
    assert again.returncode != 0
    assert again.stderr.count("\n") == 1 and "already up" in again.stderr
    assert lab.ssh("node1", "true").returncode == 0
    assert oemhost_cli(*args, "up", "--nodes", "2", "--reuse").returncode == 0

    # network cut: unreachable from the host; restore brings it back
    oemhost_cli(*args, "cut", "node1", check=True)
    assert lab.ssh("node1", "true", timeout=20).returncode != 0
    oemhost_cli(*args, "restore", "node1", check=True)
    assert lab.ssh("node1", "true").returncode == 0

    # crash: the whole container dies (not only nspawn); restart boots it again
    pid = lab.load_state().nodes["node2"].pid
    oemhost_cli(*args, "crash", "node2", check=True)
    assert not _pid_alive(pid)
    netns = lab.load_state().nodes["node2"].netns
    assert subprocess.run(["ip", "netns", "pids", netns], capture_output=True,
                          text=True).stdout.split() == []
    assert oemhost_cli(*args, "status").returncode == 3
    oemhost_cli(*args, "restart", "node2", check=True)
    assert lab.ssh("node2", "systemctl is-system-running --wait").stdout.strip() in (
        "running", "degraded")

    oemhost_cli(*args, "down", check=True)
    assert leftovers(lab) == []


def test_a_crashed_run_is_cleaned_by_the_next_up(lab):
    quiet = lambda _m: None  # noqa: E731
    lab.up(1, progress=quiet)
    # the CLI died: its bookkeeping is gone, the nodes and their plumbing are not
    (lab.dir / "state.json").unlink()
    assert leftovers(lab)
    lab.up(1, progress=quiet)
    assert lab.ssh("node1", "true").returncode == 0
    # and a killed nspawn with its container still alive is cleaned too
    pid = lab.load_state().nodes["node1"].pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    lab.up(1, progress=quiet)
    assert lab.ssh("node1", "true").returncode == 0


def test_two_labs_do_not_collide(lab, tmp_path):
    other = Lab(tmp_path, "pytest-lab", inventory_dir=None)  # another checkout
    quiet = lambda _m: None  # noqa: E731
    try:
        lab.up(1, progress=quiet)
        other.up(1, progress=quiet)
        a, b = lab.load_state(), other.load_state()
        assert a.lab_id != b.lab_id and a.subnet != b.subnet
        assert lab.ssh("node1", "true").returncode == 0
        assert other.ssh("node1", "true").returncode == 0
        other.down(progress=quiet)
        assert lab.ssh("node1", "true").returncode == 0
    finally:
        other.down(progress=quiet)
        assert leftovers(other) == []


@pytest.mark.parametrize("nodes, message", [("0", "must be from 1 to 20"),
                                            ("abc", "not a number"),
                                            ("21", "must be from 1 to 20")])
def test_bad_node_counts(oemhost_cli, nodes, message):
    proc = oemhost_cli("lab", "--name", "pytest-bad", "up", "--nodes", nodes)
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and message in proc.stderr
    assert not (PROJECT_DIR / ".lab" / "pytest-bad" / "state.json").exists()


def test_not_root(monkeypatch, capsys):
    # the interpreter lives under /root here, so an unprivileged user can't even start it:
    # run the real CLI entry point in-process as if the effective uid were not 0
    from oemhost.cli import main

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    rc = main(["lab", "--name", "pytest-bad", "--inventory", "", "up", "--nodes", "1"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err == ("oemhost: error: the lab needs root (network namespaces, mounts, "
                   "systemd-nspawn)\n")
    assert not (PROJECT_DIR / ".lab" / "pytest-bad" / "state.json").exists()


def test_missing_debootstrap(oemhost_cli, tmp_path):
    # no cached image and no debootstrap on PATH: one line naming the package to install
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("systemd-nspawn", "mkfs.btrfs", "ip", "ssh-keygen", "losetup"):
        path = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True,
                              text=True).stdout.strip()
        (bindir / tool).symlink_to(path)
    env = dict(os.environ, PATH=str(bindir), OEMHOST_LAB_CACHE=str(tmp_path / "cache"))
    proc = oemhost_cli("lab", "--name", "pytest-bad", "--inventory", "", "up", "--nodes", "1",
                       env=env)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert "missing host packages: debootstrap" in proc.stderr
    assert not (tmp_path / "cache").exists()
    assert not (PROJECT_DIR / ".lab" / "pytest-bad" / "state.json").exists()


def test_down_keeps_a_node_that_tenants_live_on(tmp_path, capsys):
    from oemhost.store import Store

    quiet = lambda _m: None  # noqa: E731
    inv = tmp_path / "inventory"
    lab = Lab(PROJECT_DIR, "pytest-lab-inv", inventory_dir=inv)
    try:
        lab.up(2, progress=quiet)
        store = Store(inv)
        assert sorted(n.name for n in store.list_nodes()) == ["node1", "node2"]
        store.add_reseller({"id": "acme", "company": "ACME", "contacts": ["noc@acme.example"],
                            "brand": {"display_name": "ACME Web"},
                            "limits": {"tenants": 10, "disk_mb": 10_000}}, actor="lab")
        store.add_plan("acme", {"id": "basic", "name": "Basic", "disk_mb": 100,
                                "default_web_mb": 80, "max_domains": 1, "max_mailboxes": 1,
                                "max_mailbox_mb": 10, "max_ftp_accounts": 0,
                                "max_databases": {"mariadb": 0, "postgresql": 0},
                                "dns": False, "ssh": False, "mail": True}, actor="lab")
        store.add_tenant({"id": "shop1", "reseller": "acme", "plan": "basic", "node": "node1",
                          "contractor": "Shop", "contact_email": "o@shop1.example",
                          "domains": ["shop1.example"]}, password="Pw-123456789", actor="lab")
        lab.down(progress=quiet)
        assert "node1 stays in the inventory" in capsys.readouterr().out
        assert [n.name for n in Store(inv).list_nodes()] == ["node1"]
        assert leftovers(lab) == []
        lab.up(1, progress=quiet)  # the node comes back under its name for its tenant
        assert lab.ssh("node1", "true").returncode == 0
    finally:
        lab.down(progress=quiet)
    assert leftovers(lab) == []
