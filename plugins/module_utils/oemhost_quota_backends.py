# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""The quota backends of oemhost, shared by the modules that converge quotas
(``oemhost_quota``) and the one that only reads usage (``oemhost_usage``).

``QuotaBackend`` is the interface; ``BtrfsBackend`` (subvolume per area, qgroup limits,
a level-1 qgroup per tenant) the only implementation so far. ``run(argv) -> stdout``
is given by the calling module (``module.run_command``) and raises ``QuotaError``.
"""

from __future__ import annotations

import functools
import grp
import os
import pwd
import stat
from dataclasses import dataclass, field

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


def module_runner(module):
    """``run(argv) -> stdout`` through ``module.run_command``; a non-zero exit raises
    :class:`QuotaError` with the command and its message."""

    def run(argv: list[str]) -> str:
        rc, out, err = module.run_command(argv)
        if rc != 0:
            raise QuotaError(f"{' '.join(argv)}: {(err or out).strip()}")
        return out

    return run


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
        """Destroy a tenant's limit group once its areas are deleted.

        The kernel keeps a deleted subvolume's qgroup, still a child of the group, until its
        cleaner has run: destroying the group then fails with "Device or resource busy".
        So on EBUSY: wait for the cleaner (``subvolume sync``), detach the children the
        group had, and try again (once)."""
        cmd = ["btrfs", "qgroup", "destroy", qgroup, self.mount]
        try:
            self.run(cmd)
            return
        except QuotaError as exc:
            if "No such file" in str(exc):
                return
            if "busy" not in str(exc).lower():
                raise
        self.run(["btrfs", "subvolume", "sync", self.mount])
        for child in self.qgroups.get(qgroup, {}).get("children", []):
            try:
                self.run(["btrfs", "qgroup", "remove", child, qgroup, self.mount])
            except QuotaError:
                pass  # already gone with its subvolume
        try:
            self.run(cmd)
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
