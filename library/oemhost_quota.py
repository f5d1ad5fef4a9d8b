#!/usr/bin/python
# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""The quota interface of oemhost: tenants' areas with OS-enforced limits, batched."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_quota
short_description: Areas of hosting tenants with disk limits the OS enforces, and their usage
description:
  - Takes every tenant of a node in one call. For each tenant keeps its areas
    (C(<base>/<tenant>/web), C(<base>/<tenant>/mail)) as quota units, each limited to its
    size, and all of a tenant's areas under one parent limit (the plan's total), so the
    web/mail split and the total both hold. Acts only on what differs.
  - Returns the usage of every tenant and area (for the panels and usage collection).
  - Backends sit behind one interface (C(QuotaBackend) in this file). V(btrfs) (the only
    one so far) makes each area a subvolume with a qgroup limit, and the tenant a level-1
    qgroup holding its areas' qgroups, limited to the total. XFS or ext4 project quotas
    (area = directory with a project id, limit by C(xfs_quota)/C(setquota -P), no
    parent limit in the kernel) would be another subclass.
  - An area that shrinks below its usage keeps its data; writes fail with "Disk quota
    exceeded" until usage is under the limit again.
version_added: "0.1.0"
author: oemhost contributors
options:
  backend:
    description: Quota implementation of the file system under O(base).
    type: str
    choices: [btrfs]
    default: btrfs
  base:
    description: Directory that holds the tenants' homes (must already exist).
    type: path
    default: /srv/hosting
  tenants:
    description: The tenants to converge (others on the node are left alone).
    type: list
    elements: dict
    default: []
    suboptions:
      tenant:
        description: Tenant id (the home C(<base>/<tenant>) and the user must exist).
        type: str
        required: true
      areas:
        description: Area name -> limit in MB.
        type: dict
        default: {}
      total_mb:
        description: Limit over all the tenant's areas (MB).
        type: int
      state:
        description: V(absent) deletes the tenant's areas with their data, and its limits.
        type: str
        choices: [present, absent]
        default: present
  area_modes:
    description:
      - Owner group and mode of each area's top directory; the owner is the tenant.
        An empty group means the tenant's own group.
    type: dict
    default: {web: {group: "", mode: "0750"}, mail: {group: "", mode: "0700"}}
  report_only:
    description: Change nothing; only return the usage (of O(tenants), or all when empty).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Keep the tenants' areas and limits
  oemhost_quota:
    tenants:
      - {tenant: shop1, areas: {web: 1500, mail: 500}, total_mb: 2000}
    area_modes:
      web: {group: www-data, mode: "02750"}
      mail: {group: "", mode: "0700"}

- name: Read usage for the panels
  oemhost_quota:
    report_only: true
  register: quota
"""

RETURN = r"""
usage:
  description: Per tenant and area (plus C(total)) the bytes used and the limit (null = none).
  type: dict
  returned: always
  sample: {shop1: {web: {used: 1048576, limit: 1572864000}, mail: {used: 0, limit: 524288000},
                   total: {used: 1048576, limit: 2097152000}}}
actions:
  description: What was done (or would be, in check mode), one line each.
  type: list
  elements: str
  returned: always
"""

import functools  # noqa: E402
import grp  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import stat  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

MB = 1024 * 1024


@functools.cache
def _user(name: str):
    return pwd.getpwnam(name)


@functools.cache
def _gid(group: str) -> int:
    return grp.getgrnam(group).gr_gid
BTRFS_SUBVOL_INO = 256  # the root directory of every btrfs subvolume has inode 256


@dataclass
class Step:
    """One change: a description for the diff and what carries it out."""

    tenant: str
    text: str
    argv: list[str] | None = None
    func: object = None
    args: tuple = field(default_factory=tuple)


class QuotaError(Exception):
    pass


class QuotaBackend:
    """The interface every quota backend implements.

    ``load()`` reads the whole state once (one or two commands for all tenants);
    ``plan_tenant()`` returns the steps that bring one tenant to what is wanted;
    ``usage()`` reports bytes used and limits per tenant and area from the loaded state.
    """

    def __init__(self, base: str, run):
        self.base = base
        self.run = run  # run(argv) -> stdout; raises QuotaError on failure

    def prepare_steps(self) -> list[Step]:
        return []

    def load(self) -> None:
        raise NotImplementedError

    def plan_tenant(self, tenant: dict, area_modes: dict) -> list[Step]:
        raise NotImplementedError

    def usage(self, tenants: list[str]) -> dict:
        raise NotImplementedError

    def known_tenants(self) -> list[str]:
        raise NotImplementedError


def parse_qgroups(text: str) -> dict[str, dict]:
    """Parse ``btrfs qgroup show --raw -pcre`` into qgroupid -> fields."""
    out = {}
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 7 or "/" not in cols[0] or not cols[0].split("/")[0].isdigit():
            continue

        def num(v: str) -> int | None:
            return None if v == "none" else int(v)

        out[cols[0]] = {
            "rfer": int(cols[1]), "excl": int(cols[2]),
            "max_rfer": num(cols[3]), "max_excl": num(cols[4]),
            "parents": [] if cols[5] == "-" else cols[5].split(","),
            "children": [] if cols[6] == "-" else cols[6].split(","),
        }
    return out


def parse_subvolumes(text: str) -> dict[str, int]:
    """Parse ``btrfs subvolume list`` into path (relative to the top level) -> id."""
    out = {}
    for line in text.splitlines():
        cols = line.split(" path ", 1)
        head = cols[0].split()
        if len(cols) == 2 and len(head) >= 2 and head[0] == "ID":
            out[cols[1].strip()] = int(head[1])
    return out


class BtrfsBackend(QuotaBackend):
    """Areas are subvolumes (qgroup 0/<subvolume id>, limited to the area size), assigned to
    a level-1 qgroup per tenant (limited to the total). The level-1 id is the tenant's uid
    (1/<uid>) when free, so it is stable and readable; an existing assignment wins."""

    def __init__(self, base: str, run):
        super().__init__(base, run)
        self.mount = self._mount_point(base)
        self.enabled = True
        self.qgroups: dict[str, dict] = {}
        self.subvols: dict[str, int] = {}

    def _mount_point(self, path: str) -> str:
        # The base may not exist yet (a node with no tenant): the areas will be created
        # on the file system of its nearest existing parent.
        while not os.path.exists(path) and os.path.dirname(path) != path:
            path = os.path.dirname(path)
        out = self.run(["findmnt", "--noheadings", "--output", "TARGET,FSTYPE",
                        "--target", path])
        target, _, fstype = out.strip().partition(" ")
        if fstype.strip() != "btrfs":
            raise QuotaError(f"{path} is on {fstype.strip() or 'an unknown'} file system, "
                             "not btrfs")
        return target

    def prepare_steps(self) -> list[Step]:
        if self.enabled:
            return []
        return [Step("*", f"enable quotas on {self.mount}",
                     ["btrfs", "quota", "enable", self.mount])]

    def load(self) -> None:
        try:
            text = self.run(["btrfs", "qgroup", "show", "--raw", "-pcre", self.mount])
        except QuotaError as exc:
            if "quota" not in str(exc).lower() or "not enabled" not in str(exc).lower():
                raise
            self.enabled = False
            text = ""
        self.qgroups = parse_qgroups(text)
        self.subvols = parse_subvolumes(self.run(["btrfs", "subvolume", "list", self.mount]))

    def _rel(self, path: str) -> str:
        return os.path.relpath(path, self.mount)

    def _area_id(self, tenant: str, area: str) -> int | None:
        return self.subvols.get(self._rel(os.path.join(self.base, tenant, area)))

    def _parent_of(self, tenant: str, areas) -> str | None:
        for area in areas:
            sid = self._area_id(tenant, area)
            if sid is None:
                continue
            parents = [p for p in self.qgroups.get(f"0/{sid}", {}).get("parents", [])
                       if p.startswith("1/")]
            if parents:
                return parents[0]
        return None

    def _new_parent(self, tenant: str, taken: set[str]) -> str:
        try:
            uid = _user(tenant).pw_uid
            if f"1/{uid}" not in self.qgroups and f"1/{uid}" not in taken:
                return f"1/{uid}"
        except KeyError:
            pass
        n = 100000
        while f"1/{n}" in self.qgroups or f"1/{n}" in taken:
            n += 1
        return f"1/{n}"

    def known_tenants(self) -> list[str]:
        base_rel = self._rel(self.base)
        out = set()
        for path in self.subvols:
            parent = os.path.dirname(os.path.dirname(path))
            if parent == base_rel:
                out.add(path.split("/")[-2])
        return sorted(out)

    def plan_tenant(self, tenant: dict, area_modes: dict, taken: set[str] | None = None) \
            -> list[Step]:
        name = tenant["tenant"]
        home = os.path.join(self.base, name)
        steps: list[Step] = []
        areas = tenant.get("areas") or {}
        if tenant.get("state") == "absent":
            for area in sorted(set(areas) | set(area_modes)):
                path = os.path.join(home, area)
                if self._area_id(name, area) is not None:
                    steps.append(Step(name, f"delete area {area} with its data",
                                      ["btrfs", "subvolume", "delete", "--commit-after", path]))
            parent = self._parent_of(name, sorted(set(areas) | set(area_modes)))
            if parent:
                steps.append(Step(name, f"remove limit group {parent}",
                                  func=self._destroy_qgroup, args=(parent,)))
            return steps
        if not os.path.isdir(home):
            raise QuotaError(f"{name}: home {home} is missing (the tenant's user comes first)")
        parent = self._parent_of(name, sorted(areas))
        if parent is None:
            parent = self._new_parent(name, taken if taken is not None else set())
            if taken is not None:
                taken.add(parent)
            steps.append(Step(name, f"create limit group {parent}",
                              ["btrfs", "qgroup", "create", parent, self.mount]))
        total = tenant.get("total_mb")
        for area, size_mb in sorted(areas.items()):
            path = os.path.join(home, area)
            sid = self._area_id(name, area)
            if sid is None:
                if os.path.lexists(path):
                    raise QuotaError(f"{name}: {path} exists but is not a subvolume")
                steps.append(Step(name, f"create area {area}",
                                  ["btrfs", "subvolume", "create", "-i", parent, path]))
                current = None
            else:
                qg = self.qgroups.get(f"0/{sid}", {})
                if parent not in qg.get("parents", []):
                    steps.append(Step(name, f"put area {area} under {parent}",
                                      ["btrfs", "qgroup", "assign", f"0/{sid}", parent,
                                       self.mount]))
                current = qg.get("max_rfer")
            want = int(size_mb) * MB
            if current != want:
                shown = "none" if current is None else f"{current // MB} MB"
                steps.append(Step(name, f"limit {area}: {shown} -> {size_mb} MB",
                                  func=self._limit_area, args=(path, want)))
            steps += self._owner_steps(name, area, path, area_modes.get(area) or {})
        if total is not None:
            current = self.qgroups.get(parent, {}).get("max_rfer")
            want = int(total) * MB
            if current != want:
                shown = "none" if current is None else f"{current // MB} MB"
                steps.append(Step(name, f"limit total: {shown} -> {total} MB",
                                  ["btrfs", "qgroup", "limit", str(want), parent, self.mount]))
        return steps

    def _owner_steps(self, name: str, area: str, path: str, spec: dict) -> list[Step]:
        try:
            user = _user(name)
        except KeyError:
            return [Step(name, f"{area}: owner {name}")]  # check mode before the user exists
        group = spec.get("group") or ""
        gid = _gid(group) if group else user.pw_gid
        mode = int(str(spec.get("mode") or "0750"), 8)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == \
                (user.pw_uid, gid, mode):
            return []
        return [Step(name, f"{area}: owner {name}:{group or name} mode {mode:04o}",
                     func=self._set_owner, args=(path, user.pw_uid, gid, mode))]

    def _set_owner(self, path: str, uid: int, gid: int, mode: int) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)

    def _limit_area(self, path: str, size: int) -> None:
        self.run(["btrfs", "qgroup", "limit", str(size), path])

    def _destroy_qgroup(self, qgroup: str) -> None:
        try:
            self.run(["btrfs", "qgroup", "destroy", qgroup, self.mount])
        except QuotaError as exc:
            if "No such file" not in str(exc):
                raise

    def usage(self, tenants: list[str]) -> dict:
        by_home: dict[str, list[tuple[str, int]]] = {}
        for path, sid in self.subvols.items():
            home, _, area = path.rpartition("/")
            by_home.setdefault(home, []).append((area, sid))
        out = {}
        for name in tenants:
            entry = {}
            parent = None
            for area, sid in by_home.get(self._rel(os.path.join(self.base, name)), []):
                qg = self.qgroups.get(f"0/{sid}", {})
                entry[area] = {"used": qg.get("rfer", 0), "limit": qg.get("max_rfer")}
                parent = parent or next((p for p in qg.get("parents", [])
                                         if p.startswith("1/")), None)
            if parent:
                qg = self.qgroups.get(parent, {})
                entry["total"] = {"used": qg.get("rfer", 0), "limit": qg.get("max_rfer")}
            elif entry:
                entry["total"] = {"used": sum(a["used"] for a in entry.values()),
                                  "limit": None}
            if entry:
                out[name] = entry
        return out


BACKENDS = {"btrfs": BtrfsBackend}


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", choices=list(BACKENDS), default="btrfs"),
            base=dict(type="path", default="/srv/hosting"),
            tenants=dict(type="list", elements="dict", default=[], options=dict(
                tenant=dict(type="str", required=True),
                areas=dict(type="dict", default={}),
                total_mb=dict(type="int"),
                state=dict(type="str", choices=["present", "absent"], default="present"),
            )),
            area_modes=dict(type="dict", default={"web": {"group": "", "mode": "0750"},
                                                  "mail": {"group": "", "mode": "0700"}}),
            report_only=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params

    def run(argv: list[str]) -> str:
        rc, out, err = module.run_command(argv)
        if rc != 0:
            raise QuotaError(f"{' '.join(argv)}: {(err or out).strip()}")
        return out

    try:
        backend = BACKENDS[p["backend"]](p["base"], run)
        backend.load()
        steps: list[Step] = []
        if not p["report_only"]:
            steps += backend.prepare_steps()
            taken: set[str] = set()
            for tenant in p["tenants"]:
                for area, size in (tenant.get("areas") or {}).items():
                    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                        raise QuotaError(f"{tenant['tenant']}: area {area}: size must be a "
                                         "whole number of MB")
                    if "/" in area or area.startswith("."):
                        raise QuotaError(f"{tenant['tenant']}: {area!r} is not an area name")
                total = tenant.get("total_mb")
                if total is not None and sum((tenant.get("areas") or {}).values()) > total:
                    raise QuotaError(f"{tenant['tenant']}: the areas add up to more than "
                                     f"the total {total} MB")
                steps += backend.plan_tenant(tenant, p["area_modes"], taken)
        if steps and not module.check_mode:
            for step in steps:
                if step.argv:
                    run(step.argv)
                elif step.func:
                    step.func(*step.args)
            backend.load()
        names = [t["tenant"] for t in p["tenants"]] or backend.known_tenants()
        usage = backend.usage(names)
    except QuotaError as exc:
        module.fail_json(msg=str(exc))
    lines = [f"{s.tenant}: {s.text}\n" for s in steps]
    module.exit_json(changed=bool(steps), actions=[line.strip() for line in lines],
                     usage=usage,
                     diff={"before": "", "after": "".join(lines),
                           "before_header": "quota", "after_header": "quota (changes)"})


if __name__ == "__main__":
    main()
