"""oemhost_usage: the parsers and the merge, on real /proc text and doveadm output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from modload import load as load_module

usage = load_module("oemhost_usage")

MOUNTS = """\
/dev/vda1 / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid 0 0
tmpfs /run tmpfs rw 0 0
/dev/loop3 /srv btrfs rw,relatime,space_cache=v2,subvolid=5,subvol=/ 0 0
/dev/loop3 /srv/hosting/shop1/web btrfs rw,subvolid=257 0 0
/dev/vdb1 /mnt/my\\040disk xfs rw 0 0
"""

NET_DEV = """\
Inter-| Receive | Transmit
 face |bytes packets errs drop fifo frame compressed multicast|bytes packets ...
 lo: 123456 100 0 0 0 0 0 0 123456 100 0 0 0 0 0 0
 host0: 9876543 7000 0 0 0 0 0 0 1234567 5000 0 0 0 0 0 0
"""

DOVEADM = ("Username\tQuota name\tType\tValue\tLimit\t%\n"
           "info@shop1.example\tUser quota\tSTORAGE\t2048\t102400\t2\n"
           "info@shop1.example\tUser quota\tMESSAGE\t3\t-\t0\n"
           "bob@Other.example\tUser quota\tSTORAGE\t10\t-\t0\n"
           "bob@Other.example\tUser quota\tMESSAGE\t1\t-\t0\n"
           "stray@nobody.example\tUser quota\tSTORAGE\t1\t-\t0\n")


def test_mounts_skip_pseudo_filesystems_and_count_a_device_once():
    assert usage.parse_mounts(MOUNTS) == [("/dev/vda1", "/", "ext4"),
                                          ("/dev/loop3", "/srv", "btrfs"),
                                          ("/dev/vdb1", "/mnt/my disk", "xfs")]


def test_filesystem_usage_counts_like_df():
    def statvfs(path):
        if path == "/gone":
            raise FileNotFoundError(path)
        return SimpleNamespace(f_blocks=1000, f_bfree=250, f_frsize=4096)

    got = usage.filesystem_usage([("/dev/a", "/", "ext4"), ("/dev/b", "/gone", "xfs")],
                                 statvfs=statvfs)
    assert got == [{"mount": "/", "fstype": "ext4", "device": "/dev/a",
                    "total_bytes": 4096000, "used_bytes": 3072000}]


def test_filesystem_usage_of_this_machine():
    fs = usage.filesystem_usage(usage.parse_mounts(Path("/proc/self/mounts").read_text()))
    root = os.statvfs("/")
    assert any(f["total_bytes"] == root.f_blocks * root.f_frsize for f in fs)


def test_meminfo_used_is_total_minus_available():
    got = usage.parse_meminfo("MemTotal:  8000 kB\nMemFree: 1000 kB\nMemAvailable: 3000 kB\n"
                              "HugePages_Total: 0\n")
    assert got == {"total_bytes": 8000 * 1024, "available_bytes": 3000 * 1024,
                   "used_bytes": 5000 * 1024}
    with pytest.raises(ValueError):
        usage.parse_meminfo("MemFree: 1 kB\n")


def test_loadavg_and_net_dev():
    assert usage.parse_loadavg("0.52 0.30 0.10 2/300 4242\n") == [0.52, 0.30, 0.10]
    assert usage.parse_net_dev(NET_DEV) == {"host0": {"rx_bytes": 9876543,
                                                      "tx_bytes": 1234567}}
    assert set(usage.parse_net_dev(NET_DEV, skip=())) == {"lo", "host0"}


def test_doveadm_quota_rows_become_mailboxes_of_their_tenants():
    boxes = usage.parse_doveadm_quota(DOVEADM)
    assert boxes["info@shop1.example"] == {"bytes": 2048 * 1024, "limit": 102400 * 1024,
                                           "messages": 3}
    assert boxes["bob@Other.example"]["limit"] is None
    owned = usage.assign_mailboxes(boxes, [
        {"tenant": "shop1", "domains": ["shop1.example"]},
        {"tenant": "bob1", "domains": ["other.example"]},
        {"tenant": "empty", "domains": []}])
    assert set(owned) == {"shop1", "bob1", "empty"}
    assert set(owned["shop1"]) == {"info@shop1.example"}
    assert set(owned["bob1"]) == {"bob@Other.example"}
    assert owned["empty"] == {}


def test_tenant_usage_merges_quota_and_mailboxes():
    quota = {"shop1": {"web": {"used": 10, "limit": 100}, "mail": {"used": 5, "limit": 50},
                       "total": {"used": 15, "limit": 150}}}
    got = usage.tenant_usage(quota, {"shop1": {"a@b.c": {"bytes": 5}}}, ["shop1", "new1"])
    assert got["shop1"]["total"] == {"used": 15, "limit": 150}
    assert got["shop1"]["mailboxes"] == {"a@b.c": {"bytes": 5}}
    # a tenant whose areas do not exist yet reports zero, not an error
    assert got["new1"] == {"web": {"used": 0, "limit": None}, "mail": {"used": 0, "limit": None},
                           "total": {"used": 0, "limit": None}, "mailboxes": {}}


def test_module_through_ansible_in_check_mode(tmp_path):
    """Run by Ansible (module_utils bundled), in check mode, on this machine."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, ANSIBLE_CONFIG=str(root / "ansible.cfg"),
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOCAL_TEMP=str(tmp_path),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible"), "all", "-i", "localhost,", "-c", "local",
         "--check", "-m", "oemhost_usage", "-a", json.dumps({"base": str(tmp_path / "none")})],
        cwd=root, env=env, capture_output=True, text=True, timeout=120)
    res = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert proc.returncode == 0, res
    assert res["changed"] is False and res["tenants"] == {}
    mem = res["node"]["memory"]
    assert 0 < mem["used_bytes"] < mem["total_bytes"]
    assert res["node"]["filesystems"] and len(res["node"]["load"]) == 3
