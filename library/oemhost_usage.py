#!/usr/bin/python
# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Usage facts of a hosting node and its tenants, for the usage collection."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_usage
short_description: Read a hosting node's usage and its tenants' usage against their limits
description:
  - Reads, in a handful of commands for the whole node, what the control plane stores as
    usage samples. Read only; changes nothing, also outside check mode.
  - Node - used and total bytes of every local file system (C(/proc/self/mounts),
    C(statvfs); pseudo and network file systems skipped, one entry per device), memory
    (C(/proc/meminfo); used = total - available), load averages (C(/proc/loadavg)) and the
    byte counters of every network interface (C(/proc/net/dev); counters, not rates: the
    control plane computes rates from deltas and handles counter resets).
  - Tenants - web and mail area usage and limits from the quota backend (the same
    C(QuotaBackend) interface as M(oemhost_quota), shared through
    C(module_utils/oemhost_quota_backends)), and with O(mail=true) every mailbox's size
    from C(doveadm -f tab quota get -A), assigned to the tenant owning its domain.
  - Database sizes are read by M(oemhost_database_usage) (a second task: PostgreSQL needs
    C(become_user=postgres)).
version_added: "0.1.0"
author: oemhost contributors
options:
  backend:
    description: Quota implementation of the file system under O(base).
    type: str
    choices: [btrfs]
    default: btrfs
  base:
    description: Directory that holds the tenants' homes.
    type: path
    default: /srv/hosting
  tenants:
    description:
      - The tenants to report, with the domains whose mailboxes are theirs. Empty means
        every tenant the quota backend knows (mailboxes are then not assigned).
    type: list
    elements: dict
    default: []
    suboptions:
      tenant:
        description: Tenant id.
        type: str
        required: true
      domains:
        description: The tenant's mail domains (punycode).
        type: list
        elements: str
        default: []
  mail:
    description: Read mailbox sizes with C(doveadm) (the node runs the mail service).
    type: bool
    default: false
  skip_interfaces:
    description: Network interfaces left out (the loopback by default).
    type: list
    elements: str
    default: [lo]
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
requirements:
  - btrfs-progs (the btrfs backend), dovecot-core (O(mail=true))
"""

EXAMPLES = r"""
- name: Read the node's and its tenants' usage
  oemhost_usage:
    tenants:
      - {tenant: shop1, domains: [shop1.example]}
    mail: true
  register: usage
"""

RETURN = r"""
node:
  description: The node's figures (bytes; C(at) is the node's clock, seconds since the epoch).
  returned: always
  type: dict
  sample:
    at: 1795996800.5
    filesystems: [{mount: /, fstype: ext4, device: /dev/vda1, total_bytes: 21474836480,
                   used_bytes: 5368709120}]
    memory: {total_bytes: 4294967296, used_bytes: 1073741824, available_bytes: 3221225472}
    load: [0.12, 0.08, 0.02]
    network: {eth0: {rx_bytes: 123456789, tx_bytes: 98765432}}
    boot_id: 5b8b5b1c-0d54-4d1b-9d1e-2b9c7c2b8c0e
tenants:
  description: Per tenant, each area (and C(total)) used bytes and limit (null = none),
    and its mailboxes.
  returned: always
  type: dict
  sample:
    shop1:
      web: {used: 52428800, limit: 1572864000}
      mail: {used: 16384, limit: 524288000}
      total: {used: 52445184, limit: 2097152000}
      mailboxes: {info@shop1.example: {bytes: 16384, limit: 104857600, messages: 3}}
"""

import os  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.oemhost_quota_backends import (  # noqa: E402
    BACKENDS,
    QuotaError,
    module_runner,
)

# file systems that hold no data of their own (or are not this node's)
PSEUDO_FS = frozenset({
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "devtmpfs", "efivarfs", "fuse.lxcfs", "fusectl", "hugetlbfs", "mqueue", "nfs", "nfs4",
    "cifs", "smb3", "nsfs", "overlay", "proc", "pstore", "ramfs", "rpc_pipefs", "securityfs",
    "squashfs", "sysfs", "tmpfs", "tracefs", "fuse.gvfsd-fuse", "fuse.portal", "9p",
})
KIB = 1024


def parse_mounts(text: str) -> list[tuple[str, str, str]]:
    """``/proc/self/mounts`` -> [(device, mount point, fstype)] of data file systems, the
    first mount of each device (a btrfs subvolume or bind mount counts once)."""
    seen: set[str] = set()
    out = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 3 or cols[2] in PSEUDO_FS:
            continue
        device = cols[0]
        mount = cols[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        if device in seen:
            continue
        seen.add(device)
        out.append((device, mount, cols[2]))
    return out


def filesystem_usage(mounts: list[tuple[str, str, str]], statvfs=os.statvfs) -> list[dict]:
    """Used and total bytes as ``df`` counts them (total = blocks, used = blocks - free)."""
    out = []
    for device, mount, fstype in mounts:
        try:
            st = statvfs(mount)
        except OSError:
            continue
        if st.f_blocks == 0:
            continue
        out.append({"mount": mount, "fstype": fstype, "device": device,
                    "total_bytes": st.f_blocks * st.f_frsize,
                    "used_bytes": (st.f_blocks - st.f_bfree) * st.f_frsize})
    return out


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` -> total, available and used bytes (used = total - available)."""
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * (KIB if parts[1:] == ["kB"] else 1)
    total = values.get("MemTotal")
    if total is None:
        raise ValueError("/proc/meminfo has no MemTotal")
    available = values.get("MemAvailable")
    if available is None:  # very old kernels
        available = values.get("MemFree", 0) + values.get("Buffers", 0) + values.get("Cached", 0)
    return {"total_bytes": total, "available_bytes": available,
            "used_bytes": max(total - available, 0)}


def parse_loadavg(text: str) -> list[float]:
    return [float(v) for v in text.split()[:3]]


def parse_net_dev(text: str, skip=("lo",)) -> dict[str, dict[str, int]]:
    """``/proc/net/dev`` -> interface -> received and sent byte counters."""
    out = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        cols = rest.split()
        if not sep or len(cols) < 9:
            continue
        name = name.strip()
        if name in skip:
            continue
        out[name] = {"rx_bytes": int(cols[0]), "tx_bytes": int(cols[8])}
    return out


def parse_doveadm_quota(text: str) -> dict[str, dict]:
    """``doveadm -f tab quota get -A`` -> address -> bytes, limit (bytes or None), messages.

    Columns: Username, Quota name, Type, Value, Limit, %; STORAGE values are KiB."""
    out: dict[str, dict] = {}
    lines = text.splitlines()
    if lines and lines[0].lower().startswith("username"):
        lines = lines[1:]
    for line in lines:
        cols = line.split("\t")
        if len(cols) < 5:
            continue
        user, kind, value, limit = cols[0], cols[2].upper(), cols[3], cols[4]
        box = out.setdefault(user, {"bytes": 0, "limit": None, "messages": 0})
        if kind == "STORAGE":
            box["bytes"] = int(value) * KIB if value.isdigit() else 0
            box["limit"] = int(limit) * KIB if limit.isdigit() else None
        elif kind == "MESSAGE":
            box["messages"] = int(value) if value.isdigit() else 0
    return out


def assign_mailboxes(mailboxes: dict[str, dict], tenants: list[dict]) -> dict[str, dict]:
    """Tenant -> its mailboxes (by the domain after the last @); others are left out."""
    owner = {}
    for t in tenants:
        for domain in t.get("domains") or []:
            owner[domain.lower()] = t["tenant"]
    out: dict[str, dict] = {t["tenant"]: {} for t in tenants}
    for address, box in mailboxes.items():
        tenant = owner.get(address.rpartition("@")[2].lower())
        if tenant is not None:
            out[tenant][address] = box
    return out


def tenant_usage(quota: dict, mailboxes: dict[str, dict], names: list[str]) -> dict:
    """Merge the quota backend's usage and the mailboxes into one entry per tenant."""
    out = {}
    for name in names:
        entry = {area: dict(v) for area, v in (quota.get(name) or {}).items()}
        for area in ("web", "mail"):
            entry.setdefault(area, {"used": 0, "limit": None})
        entry.setdefault("total", {"used": entry["web"]["used"] + entry["mail"]["used"],
                                   "limit": None})
        entry["mailboxes"] = mailboxes.get(name, {})
        out[name] = entry
    return out


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", choices=list(BACKENDS), default="btrfs"),
            base=dict(type="path", default="/srv/hosting"),
            tenants=dict(type="list", elements="dict", default=[], options=dict(
                tenant=dict(type="str", required=True),
                domains=dict(type="list", elements="str", default=[]),
            )),
            mail=dict(type="bool", default=False),
            skip_interfaces=dict(type="list", elements="str", default=["lo"]),
        ),
        supports_check_mode=True,
    )
    p = module.params

    run = module_runner(module)

    try:
        node = {
            "at": time.time(),
            "filesystems": filesystem_usage(parse_mounts(_read("/proc/self/mounts"))),
            "memory": parse_meminfo(_read("/proc/meminfo")),
            "load": parse_loadavg(_read("/proc/loadavg")),
            "network": parse_net_dev(_read("/proc/net/dev"), tuple(p["skip_interfaces"])),
            "boot_id": _read("/proc/sys/kernel/random/boot_id").strip(),
        }
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"cannot read the node's figures: {exc}")
    tenants = []
    if os.path.isdir(p["base"]):
        try:
            backend = BACKENDS[p["backend"]](p["base"], run)
            backend.load()
            names = [t["tenant"] for t in p["tenants"]] or backend.known_tenants()
            quota = backend.usage(names)
            mailboxes = {}
            if p["mail"]:
                boxes = parse_doveadm_quota(run(["doveadm", "-f", "tab", "quota", "get", "-A"]))
                mailboxes = assign_mailboxes(boxes, p["tenants"])
            tenants = tenant_usage(quota, mailboxes, names)
        except QuotaError as exc:
            module.fail_json(msg=str(exc))
    module.exit_json(changed=False, node=node, tenants=tenants or {})


if __name__ == "__main__":
    main()
