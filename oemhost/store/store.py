"""The store: the only code that writes the hosting state.

Every write follows the same path, under one lock per inventory (``flock`` on a file in
the repository's git directory, so it holds across processes and threads):

1. read the record's file as it is now; refuse with :class:`ConflictError` if the caller's
   ``expected_version`` (the git blob id it read) is stale;
2. check the actor may make this change;
3. apply the change to a copy, run the record checks and the relation checks (plan
   limits, node services and capacity, reseller limits, domains held by other tenants);
   any error raises :class:`ValidationError` and nothing is written;
4. refuse if the file differs from ``HEAD`` (an uncommitted hand edit is never swept into
   someone else's commit);
5. write the file(s) atomically (temporary file, fsync, rename), then commit exactly those
   paths (:mod:`oemhost.store.gitrepo`); if the commit fails the files are put back.

Each write returns the new commit id (or the current one when the change changed nothing).
"""

from __future__ import annotations

import copy
import datetime as _dt
import fcntl
import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oemhost.errors import ConflictError, NotFoundError, OemhostError, ValidationError
from oemhost.store import gitrepo, hashing, layout, validate, yamlio
from oemhost.store.model import (
    SHARED_OWNER,
    DiskSplit,
    Mailbox,
    Node,
    Plan,
    Reseller,
    Tenant,
    TenantSummary,
)
from oemhost.store.snapshot import Snapshot, is_inventory

LOCK_TIMEOUT = 60.0

PLUGIN_CONFIG_TEXT = """\
---
# The hosting state under state/ as Ansible inventory: nodes become hosts and groups,
# tenants become host variables (see docs/INVENTORY.md of the oemhost project).
plugin: oemhost_state
"""
GROUP_VARS_TEXT = """\
---
# Provider settings for every node: plain Ansible variables written by ops (trusted; they
# may use Jinja). Tenant data never goes here: it lives in state/ and reaches Ansible only
# through the oemhost_state plugins, whose values Ansible never renders as templates.
{}
"""
GITIGNORE_LINES = ["/secrets/", f"/{layout.CACHE_DIR}/", ".*.tmp"]


class PermissionDenied(OemhostError):
    """The actor may not make this change."""


@dataclass(frozen=True)
class Actor:
    raw: str
    kind: str  # ops | lab | system | monitor | reseller | tenant
    reseller: str | None = None
    tenant: str | None = None

    @classmethod
    def parse(cls, value: str) -> Actor:
        validate.actor(value)
        kind, _, rest = value.partition(":")
        if kind == "reseller":
            return cls(value, kind, reseller=rest.split("/", 1)[0])
        if kind == "tenant":
            return cls(value, kind, tenant=rest)
        return cls(value, kind)

    @property
    def is_ops(self) -> bool:
        return self.kind in ("ops", "lab", "system")


# fields of a tenant each kind of actor may change with change_tenant()
_TENANT_FIELDS_BY_TENANT = {"contact_email", "ssh", "disk"}
_TENANT_FIELDS_BY_RESELLER = _TENANT_FIELDS_BY_TENANT | {
    "contractor", "customer_number", "contract_date", "start_date", "plan", "status",
    "status_reason"}
_TENANT_FIELDS_BY_OPS = _TENANT_FIELDS_BY_RESELLER | {"node"}
_RESELLER_FIELDS_BY_RESELLER = {"company", "contacts", "brand", "locale"}


def _acquire_flock(path: Path, timeout: float) -> int:
    """An fd holding an exclusive ``flock`` on ``path``; ConflictError after ``timeout``.

    Waiting is a blocking ``flock`` in a helper thread (polling would let newcomers
    overtake a waiter indefinitely under contention); if the caller gives up, the helper
    releases the lock as soon as it gets it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        os.close(fd)
    state = {"fd": None, "abandoned": False}
    got = threading.Event()
    guard = threading.Lock()

    def wait() -> None:
        wfd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(wfd, fcntl.LOCK_EX)
        with guard:
            if state["abandoned"]:
                os.close(wfd)
            else:
                state["fd"] = wfd
                got.set()

    threading.Thread(target=wait, name="oemhost-store-lock", daemon=True).start()
    got.wait(timeout)
    with guard:
        if state["fd"] is not None:
            return state["fd"]
        state["abandoned"] = True
    raise ConflictError(f"the inventory stayed busy for {timeout:.0f} s (other changes were "
                        "being written); nothing was changed, try again")


def _now_utc() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` over ``base``: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _require_mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError({"": f"{what} must be a mapping"})
    return value


class Store:
    """Reads and writes one inventory directory (see the module docstring)."""

    def __init__(self, inventory_dir: Path | str, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.root = Path(inventory_dir).absolute()
        #: how long a write waits for the writes queued before it
        self.lock_timeout = lock_timeout
        if not is_inventory(self.root):
            raise NotFoundError(f"{self.root} is not an oemhost inventory (no oemhost.yml and "
                                "state/); create one with `oemhost inventory init`")
        self._snapshot = Snapshot(self.root)
        self._git: gitrepo.GitRepo | None = None
        self._mutex = threading.RLock()

    # --- creating an inventory ---------------------------------------------------------

    @classmethod
    def init(cls, inventory_dir: Path | str) -> Store:
        """Create (or complete) an inventory repository; running it again changes nothing."""
        root = Path(inventory_dir).absolute()
        root.mkdir(parents=True, exist_ok=True)
        if not (root / ".git").exists():
            gitrepo.init_repo(root)
        (root / layout.SECRETS_DIR).mkdir(mode=0o700, exist_ok=True)
        os.chmod(root / layout.SECRETS_DIR, 0o700)
        wanted: dict[str, bytes] = {
            layout.PLUGIN_CONFIG: PLUGIN_CONFIG_TEXT.encode(),
            "group_vars/all/oemhost.yml": GROUP_VARS_TEXT.encode(),
        }
        for rel in layout.KIND_DIRS.values():
            wanted[f"{rel}/.gitkeep"] = b""
        touched = []
        for rel, data in wanted.items():
            path = root / rel
            if not path.exists():
                yamlio.atomic_write(path, data)
                touched.append(rel)
        gi = root / ".gitignore"
        lines = gi.read_text().splitlines() if gi.exists() else []
        missing = [line for line in GITIGNORE_LINES if line not in lines]
        if missing:
            yamlio.atomic_write(gi, ("\n".join(lines + missing) + "\n").encode())
            touched.append(".gitignore")
        store = cls(root)
        with store._lock():
            git = store.git
            committed = git.head_blobs(list(wanted) + [".gitignore"])
            pending = [rel for rel in list(wanted) + [".gitignore"]
                       if committed.get(rel) != yamlio.blob_id((root / rel).read_bytes())]
            if pending:
                git.commit_paths(pending, message="Initialise the oemhost inventory\n",
                                 author=gitrepo.STORE_IDENTITY, expected_head=git.head())
        return store

    @property
    def git(self) -> gitrepo.GitRepo:
        if self._git is None:
            self._git = gitrepo.GitRepo(self.root)
        return self._git

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with self._mutex:
            fd = _acquire_flock(self.git.git_dir / "oemhost-store.lock", self.lock_timeout)
            try:
                yield
            finally:
                os.close(fd)

    # --- reading -------------------------------------------------------------------------

    #: list views may be this many seconds behind changes made by *other* processes
    LIST_MAX_AGE = 1.0

    @property
    def loaded_tenants(self) -> int:
        """How many tenants the in-memory snapshot holds (no disk access)."""
        return len(self._snapshot.tenants)

    def refresh(self, *, max_age: float | None = None) -> Snapshot:
        with self._mutex:
            self._snapshot.refresh(max_age=max_age)
            return self._snapshot

    def _read(self, kind: str, rel: str, what: str) -> tuple[dict, str, bytes]:
        path = self.root / rel
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"{what} does not exist") from None
        try:
            data = yamlio.loads(raw, source=rel)
        except yamlio.StateFileError as exc:
            raise OemhostError(f"{rel} cannot be read: {exc}; fix it by hand "
                               "(`oemhost inventory check` lists the problems)") from None
        rec, errors = validate.check_record(kind, data)
        if errors or rec is None:
            first = "; ".join(validate.format_errors(rel, errors)[:3])
            raise OemhostError(f"{what} is invalid on disk ({first}); fix it by hand "
                               "(`oemhost inventory check` lists the problems)")
        return rec, yamlio.blob_id(raw), raw

    def get_node(self, name: str) -> Node:
        self._check_id(name, validate.SLUG_RE, "node")
        rec, version, _ = self._read("node", layout.node_path(name), f"node {name}")
        return Node.from_dict(rec, version=version)

    def get_reseller(self, reseller: str) -> Reseller:
        self._check_id(reseller, validate.SLUG_RE, "reseller")
        rec, version, _ = self._read("reseller", layout.reseller_path(reseller),
                                     f"reseller {reseller}")
        return Reseller.from_dict(rec, version=version)

    def get_plan(self, reseller: str, plan: str) -> Plan:
        self._check_id(reseller, validate.SLUG_RE, "reseller")
        self._check_id(plan, validate.SLUG_RE, "plan")
        rec, version, _ = self._read("plan", layout.plan_path(reseller, plan),
                                     f"plan {reseller}/{plan}")
        return Plan.from_dict(rec, version=version)

    def get_tenant(self, tenant: str) -> Tenant:
        self._check_id(tenant, validate.TENANT_ID_RE, "tenant")
        rec, version, _ = self._read("tenant", layout.tenant_path(tenant), f"tenant {tenant}")
        return Tenant.from_dict(rec, version=version)

    @staticmethod
    def _check_id(value: Any, rx, what: str) -> None:
        if not isinstance(value, str) or not rx.match(value):
            raise NotFoundError(f"{what} {value!r} does not exist (not a valid {what} id)")

    def _refresh_small(self) -> Snapshot:
        with self._mutex:
            self._snapshot.refresh(("node", "reseller", "plan"))
            return self._snapshot

    def list_nodes(self) -> list[Node]:
        snap = self._refresh_small()
        return [Node.from_dict(e.data, version=e.version)
                for name, e in sorted(snap.nodes.items()) if snap.valid(e)]

    def list_resellers(self) -> list[Reseller]:
        snap = self._refresh_small()
        return [Reseller.from_dict(e.data, version=e.version)
                for _, e in sorted(snap.resellers.items()) if snap.valid(e)]

    def list_plans(self, reseller: str | None = None) -> list[Plan]:
        snap = self._refresh_small()
        return [Plan.from_dict(e.data, version=e.version)
                for key, e in sorted(snap.plans.items())
                if snap.valid(e) and (reseller is None or key[0] == reseller)]

    def _tenant_rows(self, *, reseller: str | None, node: str | None, plan: str | None,
                     status: str | None, q: str | None) -> list[tuple[str, Any]]:
        snap = self.refresh(max_age=self.LIST_MAX_AGE)
        needle = q.casefold() if q else None
        rows = []
        for tid, e in snap.tenants.items():
            s = e.data
            if not isinstance(s, dict):
                continue
            if reseller is not None and s["reseller"] != reseller:
                continue
            if node is not None and s["node"] != node:
                continue
            if plan is not None and s["plan"] != plan:
                continue
            if status is not None and s["status"] != status:
                continue
            if needle is not None:
                hay = " ".join([tid, s["contractor"], s["customer_number"] or "",
                                s["contact_email"]] + [d[0] for d in s["domains"]]
                               + [validate.domain_to_unicode(d[0]) for d in s["domains"]
                                  if d[0] and "xn--" in d[0]])
                if needle not in hay.casefold():
                    continue
            rows.append((tid, e))
        return rows

    def list_tenants(self, reseller: str | None = None, node: str | None = None, *,
                     plan: str | None = None, status: str | None = None, q: str | None = None,
                     sort: str = "id", offset: int = 0,
                     limit: int | None = None) -> list[TenantSummary]:
        """Tenants as list rows (no secrets), filtered, sorted and paginated.

        ``q`` searches id, contractor, customer number, contact e-mail and domains;
        ``sort`` is a summary field (``id``, ``contractor``, ``contract_date``...), prefix
        ``-`` for descending. Served from the snapshot: no tenant file is parsed unless it
        changed since it was last read.
        """
        rows = self._tenant_rows(reseller=reseller, node=node, plan=plan, status=status, q=q)
        desc = sort.startswith("-")
        field = sort.lstrip("-")
        if field not in ("id", "contractor", "customer_number", "contact_email", "contract_date",
                         "start_date", "status", "plan", "node", "reseller"):
            raise ValidationError({"sort": f"cannot sort by {field!r}"})
        rows.sort(key=lambda r: (r[1].data.get(field) or "", r[0]), reverse=desc)
        end = None if limit is None else offset + limit
        out = []
        snap = self._snapshot
        for tid, e in rows[offset:end]:
            s = e.data
            out.append(TenantSummary(
                id=tid, reseller=s["reseller"], plan=s["plan"], node=s["node"],
                status=s["status"], contractor=s["contractor"],
                customer_number=s["customer_number"], contact_email=s["contact_email"],
                contract_date=s["contract_date"], start_date=s["start_date"],
                disk=DiskSplit(**s["disk"]),
                domains=[d[0] for d in s["domains"]], mailboxes=len(s["quotas"]),
                ftp_accounts=s["ftp"], databases=sum(s["databases"].values()),
                errors=validate.format_errors(tid, snap.tenant_errors(tid)),
                version=e.version))
        return out

    def count_tenants(self, reseller: str | None = None, node: str | None = None, *,
                      plan: str | None = None, status: str | None = None,
                      q: str | None = None) -> int:
        return len(self._tenant_rows(reseller=reseller, node=node, plan=plan, status=status,
                                     q=q))

    def history(self, *, tenant: str | None = None, limit: int = 20) -> list[dict[str, str]]:
        """Recent commits (all, or those touching one tenant's file)."""
        paths = [layout.tenant_path(tenant)] if tenant else None
        return self.git.log(paths, limit=limit)

    def issues(self):
        """Everything ``oemhost inventory check`` reports (errors and warnings)."""
        return self.refresh().issues()

    # --- the write path ------------------------------------------------------------------

    def _commit(self, files: list[tuple[str, str, dict | None, bytes | None]], *, actor: Actor,
                reason: str, subject: str, details: list[str] | None = None) -> str:
        """Write and commit ``files``: (kind, path, new record or None to delete, old bytes).

        Called with the lock held and after validation."""
        git = self.git
        writes: list[tuple[str, str, dict | None, bytes | None, bytes | None]] = []
        for kind, rel, record, old in files:
            new = yamlio.dumps(record) if record is not None else None
            if new != old:
                writes.append((kind, rel, record, old, new))
        head, committed = git.head_and_blobs([w[1] for w in files])
        if not writes:
            return head or ""
        committed = {w[1]: committed[w[1]] for w in writes if w[1] in committed}
        for _kind, rel, _rec, old, _new in writes:
            want = yamlio.blob_id(old) if old is not None else None
            if committed.get(rel) != want:
                if old is None:
                    raise ConflictError(f"{rel} exists in git but not on disk, or on disk but "
                                        "not in git; commit or discard it first")
                raise ConflictError(f"{rel} has changes that are not committed; commit or "
                                    f"discard them first (git -C {self.root} diff -- {rel})")
        message = self._message(subject, details, actor, reason)
        done: list[tuple[str, bytes | None]] = []
        try:
            for _kind, rel, _rec, old, new in writes:
                path = self.root / rel
                done.append((rel, old))
                if new is None:
                    path.unlink()
                else:
                    yamlio.atomic_write(path, new)
            commit = git.commit_paths([w[1] for w in writes], message=message,
                                      author=gitrepo.actor_identity(actor.raw),
                                      expected_head=head)
        except BaseException:
            for rel, old in reversed(done):
                path = self.root / rel
                if old is None:
                    path.unlink(missing_ok=True)
                else:
                    yamlio.atomic_write(path, old)
            raise
        for kind, rel, rec, _old, new in writes:
            self._snapshot.note_written(rel, kind, rec, new)
        return commit

    @staticmethod
    def _message(subject: str, details: list[str] | None, actor: Actor, reason: str) -> str:
        lines = [subject[:200], ""]
        if details:
            lines += [f"- {d}" for d in details] + [""]
        if reason:
            lines += [f"Reason: {reason}"]
        lines += [f"Actor: {actor.raw}"]
        return "\n".join(lines) + "\n"

    def _begin(self, actor: str, reason: str) -> Actor:
        who = Actor.parse(actor)
        validate.reason(reason)
        return who

    @staticmethod
    def _check_version(expected: str | None, version: str, what: str) -> None:
        if expected is not None and expected != version:
            raise ConflictError(f"{what} was changed by someone else since you read it "
                                "(stale version); reload and try again")

    @staticmethod
    def _deny(actor: Actor, what: str) -> None:
        raise PermissionDenied(f"{actor.raw} may not {what}")

    def _fresh(self, kinds: tuple[str, ...] | None = None) -> Snapshot:
        self._snapshot.refresh(kinds)
        return self._snapshot

    # --- nodes ---------------------------------------------------------------------------

    def put_node(self, record: dict[str, Any], *, actor: str, reason: str = "",
                 expected_version: str | None = None) -> str:
        """Create or replace a node record."""
        who = self._begin(actor, reason)
        if not who.is_ops:
            self._deny(who, "change nodes")
        record = _require_mapping(record, "a node record")
        rec, errors = validate.check_node(record)
        name = record.get("name")
        if errors:
            raise ValidationError(errors, subject=f"node {name}")
        rel = layout.node_path(rec["name"])
        with self._lock():
            snap = self._fresh()
            old = self._read_raw(rel)
            if old is not None:
                self._check_version(expected_version, yamlio.blob_id(old), f"node {name}")
            elif expected_version is not None:
                raise ConflictError(f"node {name} no longer exists")
            if rec["owner"] != SHARED_OWNER and snap.reseller(rec["owner"]) is None:
                raise ValidationError({"owner": f"reseller {rec['owner']!r} does not exist"},
                                      subject=f"node {name}")
            problems = []
            used = 0
            for tid in snap.tenant_ids(name):
                s = snap.tenants[tid].data
                plan = snap.plan(s["reseller"], s["plan"])
                if s["status"] != "removed":
                    used += 1
                errs = validate.tenant_relation_errors(
                    s, plan=plan, reseller=snap.reseller(s["reseller"]), node=rec)
                problems += validate.format_errors(tid, errs)
            if problems:
                raise ValidationError({"": f"{len(problems)} problem(s) for tenants on the "
                                           f"node, e.g. {'; '.join(problems[:3])}"},
                                      subject=f"node {name}")
            if used > rec["capacity"]["tenants"]:
                raise ValidationError({"capacity.tenants": f"{used} tenants are placed here"},
                                      subject=f"node {name}")
            verb = "add" if old is None else "change"
            return self._commit([("node", rel, rec, old)], actor=who, reason=reason,
                                subject=f"node {name}: {verb}",
                                details=self._diff_lines(old, rec))

    def remove_node(self, name: str, *, actor: str, reason: str = "",
                    expected_version: str | None = None) -> str:
        who = self._begin(actor, reason)
        if not who.is_ops:
            self._deny(who, "remove nodes")
        self._check_id(name, validate.SLUG_RE, "node")
        rel = layout.node_path(name)
        with self._lock():
            snap = self._fresh()
            old = self._read_raw(rel)
            if old is None:
                raise NotFoundError(f"node {name} does not exist")
            self._check_version(expected_version, yamlio.blob_id(old), f"node {name}")
            placed = snap.tenant_ids(name)
            if placed:
                raise ConflictError(f"node {name} still has {len(placed)} tenant(s) "
                                    f"({', '.join(placed[:5])}); move or purge them first")
            return self._commit([("node", rel, None, old)], actor=who, reason=reason,
                                subject=f"node {name}: remove")

    def _read_raw(self, rel: str) -> bytes | None:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            return None

    def _diff_lines(self, old: bytes | None, new: dict | None) -> list[str]:
        """Short 'field: old -> new' lines for a commit message (no secrets)."""
        if old is None or new is None:
            return []
        try:
            before = yamlio.loads(old)
        except yamlio.StateFileError:
            return []
        return self._record_diff(before, new)

    @staticmethod
    def _record_diff(before: Any, new: dict) -> list[str]:
        lines = []
        for key, value in new.items():
            prev = before.get(key) if isinstance(before, dict) else None
            if prev == value:
                continue
            if "password" in key or key in ("domains", "mailboxes", "ftp_accounts", "databases",
                                             "dns_records"):
                lines.append(f"{key} changed")
            else:
                lines.append(f"{key}: {_short(prev)} -> {_short(value)}")
        return lines

    # --- resellers -------------------------------------------------------------------------

    def add_reseller(self, record: dict[str, Any], *, actor: str, reason: str = "") -> str:
        who = self._begin(actor, reason)
        if not who.is_ops:
            self._deny(who, "add resellers")
        record = _require_mapping(record, "a reseller record")
        rec, errors = validate.check_reseller(record)
        if errors:
            raise ValidationError(errors, subject=f"reseller {record.get('id')}")
        rel = layout.reseller_path(rec["id"])
        with self._lock():
            self._fresh()
            if self._read_raw(rel) is not None:
                raise ConflictError(f"reseller {rec['id']} already exists")
            return self._commit([("reseller", rel, rec, None)], actor=who, reason=reason,
                                subject=f"reseller {rec['id']}: add")

    def change_reseller(self, reseller: str, changes: dict[str, Any], *, actor: str,
                        reason: str = "", expected_version: str | None = None) -> str:
        who = self._begin(actor, reason)
        changes = _require_mapping(changes, "changes")
        if "id" in changes:
            raise ValidationError({"id": "cannot be changed"})
        if not who.is_ops:
            if who.kind != "reseller" or who.reseller != reseller:
                self._deny(who, f"change reseller {reseller}")
            denied = set(changes) - _RESELLER_FIELDS_BY_RESELLER
            if denied:
                self._deny(who, f"change {', '.join(sorted(denied))} of reseller {reseller}")
        with self._lock():
            snap = self._fresh()
            cur, version, old = self._read("reseller", layout.reseller_path(reseller),
                                           f"reseller {reseller}")
            self._check_version(expected_version, version, f"reseller {reseller}")
            rec, errors = validate.check_reseller(_merge(cur, changes))
            if errors:
                raise ValidationError(errors, subject=f"reseller {reseller}")
            self._check_reseller_limits(snap, rec)
            return self._commit([("reseller", layout.reseller_path(reseller), rec, old)],
                                actor=who, reason=reason, subject=f"reseller {reseller}: change",
                                details=self._diff_lines(old, rec))

    def _check_reseller_limits(self, snap: Snapshot, rec: dict, *, extra_tenants: int = 0,
                               extra_disk: int = 0, exclude: str | None = None) -> None:
        count, disk = extra_tenants, extra_disk
        for tid, e in snap.tenants.items():
            s = e.data
            if tid == exclude or not isinstance(s, dict) or s["reseller"] != rec["id"] or \
                    s["status"] == "removed":
                continue
            count += 1
            plan = snap.plan(s["reseller"], s["plan"])
            disk += plan["disk_mb"] if plan else 0
        lim = rec["limits"]
        errors = {}
        if count > lim["tenants"]:
            errors["limits.tenants"] = f"{count} tenants would exceed the reseller's limit " \
                                       f"of {lim['tenants']}"
        if not lim["oversell"] and disk > lim["disk_mb"]:
            errors["limits.disk_mb"] = f"plans would total {disk} MB, over the reseller's " \
                                       f"{lim['disk_mb']} MB (oversell is off)"
        if errors:
            raise ValidationError(errors, subject=f"reseller {rec['id']}")

    def remove_reseller(self, reseller: str, *, actor: str, reason: str = "",
                        expected_version: str | None = None) -> str:
        """Remove a reseller and its plans; refused while it has tenants or owns nodes."""
        who = self._begin(actor, reason)
        if not who.is_ops:
            self._deny(who, "remove resellers")
        with self._lock():
            snap = self._fresh()
            _cur, version, old = self._read("reseller", layout.reseller_path(reseller),
                                            f"reseller {reseller}")
            self._check_version(expected_version, version, f"reseller {reseller}")
            tenants = [t for t, e in snap.tenants.items()
                       if isinstance(e.data, dict) and e.data["reseller"] == reseller]
            if tenants:
                raise ConflictError(f"reseller {reseller} still has {len(tenants)} tenant(s) "
                                    f"({', '.join(sorted(tenants)[:5])}); purge them first")
            nodes = [n for n, e in snap.nodes.items()
                     if isinstance(e.data, dict) and e.data.get("owner") == reseller]
            if nodes:
                raise ConflictError(f"reseller {reseller} owns node(s) {', '.join(nodes)}; "
                                    "give them to another owner first")
            files: list[tuple[str, str, dict | None, bytes | None]] = [
                ("reseller", layout.reseller_path(reseller), None, old)]
            for (rid, _pid), e in sorted(snap.plans.items()):
                if rid == reseller:
                    files.append(("plan", e.path, None, self._read_raw(e.path)))
            return self._commit(files, actor=who, reason=reason,
                                subject=f"reseller {reseller}: remove")

    # --- plans -------------------------------------------------------------------------------

    def _plan_actor(self, who: Actor, reseller: str, what: str) -> None:
        if who.is_ops or (who.kind == "reseller" and who.reseller == reseller):
            return
        self._deny(who, f"{what} plans of reseller {reseller}")

    def add_plan(self, reseller: str, record: dict[str, Any], *, actor: str,
                 reason: str = "") -> str:
        who = self._begin(actor, reason)
        self._plan_actor(who, reseller, "add")
        record = dict(_require_mapping(record, "a plan record"))
        record.setdefault("reseller", reseller)
        if record["reseller"] != reseller:
            raise ValidationError({"reseller": f"must be {reseller}"})
        rec, errors = validate.check_plan(record)
        if errors:
            raise ValidationError(errors, subject=f"plan {reseller}/{record.get('id')}")
        rel = layout.plan_path(reseller, rec["id"])
        with self._lock():
            snap = self._fresh()
            if snap.reseller(reseller) is None:
                raise NotFoundError(f"reseller {reseller} does not exist")
            if self._read_raw(rel) is not None:
                raise ConflictError(f"plan {reseller}/{rec['id']} already exists")
            return self._commit([("plan", rel, rec, None)], actor=who, reason=reason,
                                subject=f"plan {reseller}/{rec['id']}: add")

    def change_plan(self, reseller: str, plan: str, changes: dict[str, Any], *, actor: str,
                    reason: str = "", expected_version: str | None = None) -> str:
        """Change a plan; only the reseller (or ops) may, and every tenant must still fit."""
        who = self._begin(actor, reason)
        self._plan_actor(who, reseller, "change")
        changes = _require_mapping(changes, "changes")
        for key in ("id", "reseller"):
            if key in changes:
                raise ValidationError({key: "cannot be changed"})
        rel = layout.plan_path(reseller, plan)
        with self._lock():
            snap = self._fresh()
            cur, version, old = self._read("plan", rel, f"plan {reseller}/{plan}")
            self._check_version(expected_version, version, f"plan {reseller}/{plan}")
            rec, errors = validate.check_plan(_merge(cur, changes))
            if errors:
                raise ValidationError(errors, subject=f"plan {reseller}/{plan}")
            problems = []
            for tid, e in sorted(snap.tenants.items()):
                s = e.data
                if not isinstance(s, dict) or (s["reseller"], s["plan"]) != (reseller, plan):
                    continue
                errs = validate.Errors()
                validate.plan_errors(s, rec, errs)
                problems += validate.format_errors(tid, errs.items)
            if problems:
                raise ValidationError({"": f"{len(problems)} tenant problem(s) with the new "
                                           f"limits, e.g. {'; '.join(problems[:3])}"},
                                      subject=f"plan {reseller}/{plan}")
            if rec["disk_mb"] != cur["disk_mb"]:
                res = snap.reseller(reseller)
                if res is not None:
                    delta = (rec["disk_mb"] - cur["disk_mb"]) * sum(
                        1 for e in snap.tenants.values() if isinstance(e.data, dict)
                        and (e.data["reseller"], e.data["plan"]) == (reseller, plan)
                        and e.data["status"] != "removed")
                    self._check_reseller_limits(snap, res, extra_disk=max(delta, 0))
            return self._commit([("plan", rel, rec, old)], actor=who, reason=reason,
                                subject=f"plan {reseller}/{plan}: change",
                                details=self._diff_lines(old, rec))

    def remove_plan(self, reseller: str, plan: str, *, actor: str, reason: str = "",
                    expected_version: str | None = None) -> str:
        who = self._begin(actor, reason)
        self._plan_actor(who, reseller, "remove")
        rel = layout.plan_path(reseller, plan)
        with self._lock():
            snap = self._fresh()
            _cur, version, old = self._read("plan", rel, f"plan {reseller}/{plan}")
            self._check_version(expected_version, version, f"plan {reseller}/{plan}")
            users = sorted(t for t, e in snap.tenants.items() if isinstance(e.data, dict)
                           and (e.data["reseller"], e.data["plan"]) == (reseller, plan))
            if users:
                raise ConflictError(f"plan {reseller}/{plan} is used by {len(users)} tenant(s) "
                                    f"({', '.join(users[:5])}); move them to another plan first")
            return self._commit([("plan", rel, None, old)], actor=who, reason=reason,
                                subject=f"plan {reseller}/{plan}: remove")

    # --- tenants -----------------------------------------------------------------------------

    def _tenant_actor(self, who: Actor, rec: dict, what: str, *, tenant_may: bool = True,
                      monitor_may: bool = False) -> None:
        if who.is_ops:
            return
        if who.kind == "reseller" and who.reseller == rec["reseller"]:
            return
        if tenant_may and who.kind == "tenant" and who.tenant == rec["id"]:
            return
        if monitor_may and who.kind == "monitor":
            return
        self._deny(who, f"{what} of tenant {rec['id']}")

    def _validate_tenant(self, snap: Snapshot, rec: dict, *, old: dict | None) -> dict:
        """Record and relation checks of a tenant about to be written; the normalised record."""
        tid = rec.get("id")
        new, errors = validate.check_tenant(rec)
        if errors or new is None:
            raise ValidationError(errors, subject=f"tenant {tid}")
        summary = validate.tenant_summary(new)
        counts_now = new["status"] != "removed"
        counted_before = old is not None and old["status"] != "removed"
        moved = old is None or old["node"] != new["node"] or (counts_now and not counted_before)
        replanned = old is None or old["plan"] != new["plan"] or (counts_now and
                                                                   not counted_before)
        names = {n for d in new["domains"] for n in (d["name"], *d["aliases"])}
        before = {n for d in (old or {}).get("domains", []) for n in (d["name"], *d["aliases"])}
        if moved or replanned or names - before:
            # counts and domain claims need every tenant file as it is now
            snap.refresh()
        errors = dict(snap.relation_errors(summary))
        for i, dom in enumerate(new["domains"]):
            for key, name in [("name", dom["name"])] + [
                    (f"aliases[{j}]", a) for j, a in enumerate(dom["aliases"])]:
                if snap.holders(name) - {tid}:
                    errors.setdefault(f"domains[{i}].{key}",
                                      f"{name} is already used by another tenant")
        node = snap.node(new["node"])
        plan = snap.plan(new["reseller"], new["plan"])
        if counts_now and moved and node is not None:
            used = sum(1 for t, e in snap.tenants.items() if t != tid and isinstance(e.data, dict)
                       and e.data["node"] == new["node"] and e.data["status"] != "removed")
            if used + 1 > node["capacity"]["tenants"]:
                errors.setdefault("node", f"node {new['node']} is full "
                                          f"({node['capacity']['tenants']} tenants)")
        if errors:
            raise ValidationError(errors, subject=f"tenant {tid}")
        if counts_now and replanned and plan is not None:
            reseller = snap.reseller(new["reseller"])
            if reseller is not None:
                self._check_reseller_limits(snap, reseller, extra_tenants=1,
                                            extra_disk=plan["disk_mb"], exclude=tid)
        return new

    def _change_tenant(self, tenant: str, mutate: Callable[[dict, Snapshot], str], *,
                       actor: str, reason: str, expected_version: str | None,
                       authorize: Callable[[Actor, dict], None],
                       details: Callable[[dict, dict], list[str]] | None = None) -> str:
        who = self._begin(actor, reason)
        self._check_id(tenant, validate.TENANT_ID_RE, "tenant")
        rel = layout.tenant_path(tenant)
        with self._lock():
            # the tenant's own file is read directly; other tenants only when needed
            snap = self._fresh(("node", "reseller", "plan"))
            cur, version, old = self._read("tenant", rel, f"tenant {tenant}")
            self._check_version(expected_version, version, f"tenant {tenant}")
            authorize(who, cur)
            work = copy.deepcopy(cur)
            summary = mutate(work, snap)
            new = self._validate_tenant(snap, work, old=cur)
            lines = details(cur, new) if details else []
            return self._commit([("tenant", rel, new, old)], actor=who, reason=reason,
                                subject=f"tenant {tenant}: {summary}", details=lines)

    def _place(self, snap: Snapshot, reseller: str) -> str | None:
        """The node for a new tenant: the reseller's own or a shared node with most room."""
        candidates = []
        for name, e in sorted(snap.nodes.items()):
            n = snap.valid(e)
            if not n or n["owner"] not in (SHARED_OWNER, reseller) or "web" not in n["services"]:
                continue
            used = sum(1 for t in snap.tenants.values() if isinstance(t.data, dict)
                       and t.data["node"] == name and t.data["status"] != "removed")
            free = n["capacity"]["tenants"] - used
            if free > 0:
                candidates.append((n["owner"] == reseller, free, name))
        if not candidates:
            return None
        return sorted(candidates, key=lambda c: (not c[0], -c[1], c[2]))[0][2]

    def add_tenant(self, record: dict[str, Any], *, password: str, actor: str,
                   reason: str = "") -> str:
        """Register a tenant (end user). ``record`` holds the tenant fields (and optionally
        its first domains); ``node`` is chosen automatically when left out; ``disk``
        defaults to the plan's split; the password becomes ``password_hash``."""
        who = self._begin(actor, reason)
        record = dict(_require_mapping(record, "a tenant record"))
        for key in ("password_hash", "mailboxes", "ftp_accounts", "databases"):
            if record.get(key):
                raise ValidationError({key: "set passwords and accounts with their own "
                                            "calls (add_mailbox, add_ftp_account...)"})
        if "status" in record and record["status"] != "active":
            raise ValidationError({"status": "a new tenant starts active"})
        validate.password(password)
        rid = record.get("reseller")
        if not who.is_ops and not (who.kind == "reseller" and who.reseller == rid):
            self._deny(who, f"add tenants for reseller {rid}")
        tid = record.get("id")
        with self._lock():
            snap = self._fresh()
            if isinstance(tid, str) and validate.TENANT_ID_RE.match(tid) and (
                    tid in snap.tenants or self._read_raw(layout.tenant_path(tid)) is not None):
                raise ConflictError(f"tenant {tid} already exists")
            reseller = snap.reseller(rid) if isinstance(rid, str) else None
            if reseller is not None and reseller["status"] != "active":
                raise ValidationError({"reseller": f"reseller {rid} is suspended"},
                                      subject=f"tenant {tid}")
            plan = snap.plan(rid, record.get("plan")) if isinstance(rid, str) and isinstance(
                record.get("plan"), str) else None
            if plan is not None:
                record.setdefault("disk", {"web_mb": plan["default_web_mb"],
                                           "mail_mb": plan["disk_mb"] - plan["default_web_mb"]})
            unplaced = False
            if not record.get("node"):
                record["node"] = self._place(snap, rid) if isinstance(rid, str) else None
                unplaced = record["node"] is None
            today = _dt.date.today().isoformat()
            record.setdefault("contract_date", today)
            record.setdefault("start_date", record["contract_date"])
            record["password_hash"] = hashing.sha512_crypt(password)
            domains = []
            for i, dom in enumerate(record.get("domains") or []):
                domains.append(self._domain_input(dom, i, first=i == 0))
            record["domains"] = domains
            _rec, errors = validate.check_tenant(record)
            if unplaced:
                errors = {**errors, "node": "no node has room for another tenant"}
            if errors:
                raise ValidationError(errors, subject=f"tenant {tid}")
            new = self._validate_tenant(snap, record, old=None)
            rel = layout.tenant_path(new["id"])
            return self._commit([("tenant", rel, new, None)], actor=who, reason=reason,
                                subject=f"tenant {new['id']}: add",
                                details=[f"reseller {new['reseller']}, plan {new['plan']}, "
                                         f"node {new['node']}"])

    def change_tenant(self, tenant: str, changes: dict[str, Any], *, actor: str,
                      reason: str = "", expected_version: str | None = None) -> str:
        """Change tenant fields (contractor, contact, dates, plan, node, ssh, disk, status).

        Domains, mailboxes, FTP accounts, databases and DNS records have their own calls;
        the password has :meth:`set_tenant_password`."""
        changes = dict(_require_mapping(changes, "changes"))
        immutable = {"id", "reseller", "password_hash", "domains", "mailboxes", "ftp_accounts",
                     "databases", "dns_records"} & set(changes)
        if immutable:
            raise ValidationError({k: "cannot be changed here" for k in sorted(immutable)})

        def authorize(who: Actor, rec: dict) -> None:
            allowed = (_TENANT_FIELDS_BY_OPS if who.is_ops else _TENANT_FIELDS_BY_RESELLER
                       if who.kind == "reseller" and who.reseller == rec["reseller"]
                       else _TENANT_FIELDS_BY_TENANT if who.kind == "tenant"
                       and who.tenant == rec["id"] else set())
            denied = set(changes) - allowed
            if denied:
                self._deny(who, f"change {', '.join(sorted(denied))} of tenant {rec['id']}")

        def mutate(rec: dict, snap: Snapshot) -> str:
            if "plan" in changes and changes["plan"] != rec["plan"] and "disk" not in changes:
                plan = snap.plan(rec["reseller"], changes["plan"])
                disk = rec["disk"]
                if plan is not None and disk["web_mb"] + disk["mail_mb"] > plan["disk_mb"]:
                    rec["disk"] = {"web_mb": plan["default_web_mb"],
                                   "mail_mb": plan["disk_mb"] - plan["default_web_mb"]}
            rec.update(_merge(rec, changes))
            if rec["status"] == "active" and "status_reason" not in changes:
                rec["status_reason"] = ""
            return "change " + ", ".join(sorted(changes))

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version, authorize=authorize,
                                   details=self._record_diff)

    def set_tenant_password(self, tenant: str, password: str, *, actor: str, reason: str = "",
                            expected_version: str | None = None) -> str:
        validate.password(password)

        def mutate(rec: dict, _snap: Snapshot) -> str:
            rec["password_hash"] = hashing.sha512_crypt(password)
            return "set password"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "the password"))

    def set_tenant_status(self, tenant: str, status: str, *, actor: str, reason: str = "",
                          expected_version: str | None = None) -> str:
        """active / suspended / removed; the reason is kept while not active."""
        errs = validate.Errors()
        validate.choice(status, "status", errs, ("active", "suspended", "removed"))
        errs.raise_if_any()

        def mutate(rec: dict, _snap: Snapshot) -> str:
            rec["status"] = status
            rec["status_reason"] = reason if status != "active" else ""
            return f"status {status}"

        return self._change_tenant(
            tenant, mutate, actor=actor, reason=reason, expected_version=expected_version,
            authorize=lambda w, r: self._tenant_actor(w, r, "change the status",
                                                      tenant_may=False))

    def remove_tenant(self, tenant: str, *, actor: str, reason: str = "",
                      expected_version: str | None = None) -> str:
        """Mark a tenant removed: the roles tear it down; the file stays until purged."""
        return self.set_tenant_status(tenant, "removed", actor=actor, reason=reason,
                                      expected_version=expected_version)

    def purge_tenant(self, tenant: str, *, actor: str, reason: str = "",
                     expected_version: str | None = None) -> str:
        """Delete a removed tenant's file (after the removal playbook has run)."""
        who = self._begin(actor, reason)
        self._check_id(tenant, validate.TENANT_ID_RE, "tenant")
        rel = layout.tenant_path(tenant)
        with self._lock():
            self._fresh()
            cur, version, old = self._read("tenant", rel, f"tenant {tenant}")
            self._check_version(expected_version, version, f"tenant {tenant}")
            self._tenant_actor(who, cur, "purge", tenant_may=False)
            if cur["status"] != "removed":
                raise ConflictError(f"tenant {tenant} is {cur['status']}; remove it first")
            return self._commit([("tenant", rel, None, old)], actor=who, reason=reason,
                                subject=f"tenant {tenant}: purge")

    def set_disk_split(self, tenant: str, web_mb: int, *, mail_mb: int | None = None,
                       actor: str, reason: str = "", expected_version: str | None = None) -> str:
        """Move the web/mail split; by default mail gets the rest of the plan's total."""
        def mutate(rec: dict, snap: Snapshot) -> str:
            plan = snap.plan(rec["reseller"], rec["plan"])
            errs = validate.Errors()
            validate.integer(web_mb, "disk.web_mb", errs)
            if mail_mb is not None:
                validate.integer(mail_mb, "disk.mail_mb", errs)
            errs.raise_if_any()
            total = plan["disk_mb"] if plan else web_mb + (mail_mb or 0)
            rec["disk"] = {"web_mb": web_mb,
                           "mail_mb": mail_mb if mail_mb is not None else max(total - web_mb, 0)}
            return f"disk split web {web_mb} MB / mail {rec['disk']['mail_mb']} MB"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "the disk"))

    # --- domains -----------------------------------------------------------------------------

    def _domain_input(self, dom: Any, index: int, *, first: bool) -> dict:
        """A domain given as a name or a partial mapping -> a full domain mapping."""
        if isinstance(dom, str):
            dom = {"name": dom}
        dom = dict(_require_mapping(dom, "a domain"))
        errs = validate.Errors()
        name = validate.domain_name(dom.get("name"), f"domains[{index}].name", errs)
        errs.raise_if_any()
        dom["name"] = name
        dom.setdefault("aliases", [f"www.{name}"])
        dom.setdefault("docroot", "public_html" if first else f"public_html/{name}")
        return dom

    def _find(self, items: list[dict], key: str, value: str, what: str) -> int:
        for i, item in enumerate(items):
            if item.get(key) == value:
                return i
        raise NotFoundError(f"{what} does not exist")

    def _norm_domain(self, name: Any, field: str = "domain") -> str:
        errs = validate.Errors()
        value = validate.domain_name(name, field, errs)
        errs.raise_if_any()
        return value

    def add_domain(self, tenant: str, name: str, *, docroot: str | None = None,
                   aliases: list[str] | None = None, tls: dict | None = None,
                   https_redirect: bool = False, php_version: str | None = None, actor: str,
                   reason: str = "", expected_version: str | None = None) -> str:
        def mutate(rec: dict, _snap: Snapshot) -> str:
            dom: dict[str, Any] = {"name": name, "https_redirect": https_redirect,
                                   "php_version": php_version}
            if docroot is not None:
                dom["docroot"] = docroot
            if aliases is not None:
                dom["aliases"] = aliases
            if tls is not None:
                dom["tls"] = tls
            dom = self._domain_input(dom, len(rec["domains"]), first=not rec["domains"])
            rec["domains"].append(dom)
            return f"add domain {dom['name']}"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "domains"))

    def change_domain(self, tenant: str, name: str, changes: dict[str, Any], *, actor: str,
                      reason: str = "", expected_version: str | None = None) -> str:
        changes = dict(_require_mapping(changes, "changes"))
        if "name" in changes:
            raise ValidationError({"name": "cannot be changed; add the new domain instead"})

        def mutate(rec: dict, _snap: Snapshot) -> str:
            key = self._norm_domain(name)
            i = self._find(rec["domains"], "name", key, f"domain {name} of tenant {tenant}")
            rec["domains"][i] = _merge(rec["domains"][i], changes)
            return f"change domain {key} ({', '.join(sorted(changes))})"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "domains"))

    def remove_domain(self, tenant: str, name: str, *, actor: str, reason: str = "",
                      expected_version: str | None = None) -> str:
        """Remove a domain and its DNS records; refused while mailboxes use it."""
        def mutate(rec: dict, _snap: Snapshot) -> str:
            key = self._norm_domain(name)
            i = self._find(rec["domains"], "name", key, f"domain {name} of tenant {tenant}")
            boxes = [m["address"] for m in rec["mailboxes"] if m["address"].endswith("@" + key)]
            if boxes:
                raise ConflictError(f"domain {key} still has mailboxes ({', '.join(boxes[:5])}); "
                                    "remove them first")
            del rec["domains"][i]
            rec["dns_records"] = [r for r in rec["dns_records"] if r["zone"] != key]
            return f"remove domain {key}"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "domains"))

    # --- mailboxes ---------------------------------------------------------------------------

    def _norm_address(self, address: Any) -> str:
        errs = validate.Errors()
        value = validate.mailbox_address(address, "address", errs)
        errs.raise_if_any()
        return value

    def add_mailbox(self, tenant: str, address: str, password: str, quota_mb: int, *,
                    forwards: list[str] | None = None, actor: str, reason: str = "",
                    expected_version: str | None = None) -> str:
        validate.password(password)

        def mutate(rec: dict, _snap: Snapshot) -> str:
            addr = self._norm_address(address)
            if any(m["address"] == addr for m in rec["mailboxes"]):
                raise ConflictError(f"mailbox {addr} already exists")
            rec["mailboxes"].append({"address": addr,
                                     "password_hash": hashing.dovecot_hash(password),
                                     "quota_mb": quota_mb, "forwards": list(forwards or []),
                                     "locked": None})
            return f"add mailbox {addr}"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "mailboxes"))

    def _mailbox_change(self, tenant: str, address: str, fn: Callable[[dict], str], *,
                        actor: str, reason: str, expected_version: str | None,
                        monitor_may: bool = False) -> str:
        def mutate(rec: dict, _snap: Snapshot) -> str:
            addr = self._norm_address(address)
            i = self._find(rec["mailboxes"], "address", addr, f"mailbox {addr}")
            return fn(rec["mailboxes"][i]) + f" {addr}"

        return self._change_tenant(
            tenant, mutate, actor=actor, reason=reason, expected_version=expected_version,
            authorize=lambda w, r: self._tenant_actor(w, r, "mailboxes", monitor_may=monitor_may))

    def change_mailbox(self, tenant: str, address: str, changes: dict[str, Any], *, actor: str,
                       reason: str = "", expected_version: str | None = None) -> str:
        """Change ``quota_mb`` and/or ``forwards`` of a mailbox."""
        changes = dict(_require_mapping(changes, "changes"))
        bad = set(changes) - {"quota_mb", "forwards"}
        if bad:
            raise ValidationError({k: "cannot be changed here" for k in sorted(bad)})

        def fn(box: dict) -> str:
            box.update(copy.deepcopy(changes))
            return f"change mailbox ({', '.join(sorted(changes))})"

        return self._mailbox_change(tenant, address, fn, actor=actor, reason=reason,
                                    expected_version=expected_version)

    def set_mailbox_password(self, tenant: str, address: str, password: str, *, actor: str,
                             reason: str = "", expected_version: str | None = None) -> str:
        validate.password(password)

        def fn(box: dict) -> str:
            box["password_hash"] = hashing.dovecot_hash(password)
            return "set password of mailbox"

        return self._mailbox_change(tenant, address, fn, actor=actor, reason=reason,
                                    expected_version=expected_version)

    def remove_mailbox(self, tenant: str, address: str, *, actor: str, reason: str = "",
                       expected_version: str | None = None) -> str:
        def mutate(rec: dict, _snap: Snapshot) -> str:
            addr = self._norm_address(address)
            i = self._find(rec["mailboxes"], "address", addr, f"mailbox {addr}")
            del rec["mailboxes"][i]
            return f"remove mailbox {addr}"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "mailboxes"))

    def find_mailbox(self, address: str, *, node: str | None = None) -> tuple[str, Mailbox]:
        """The tenant id and the mailbox of ``address`` (the tenant whose domain the address
        is on; ``node`` narrows the search). What the monitor's mass-mail watch has is a
        sender address from a mail node's log; NotFoundError when no tenant has it."""
        addr = self._norm_address(address)
        domain = addr.rpartition("@")[2]
        for tid, e in self._tenant_rows(reseller=None, node=node, plan=None, status=None,
                                        q=None):
            if domain not in (d[0] for d in e.data["domains"]):
                continue
            for box in self.get_tenant(tid).mailboxes:
                if box.address == addr:
                    return tid, box
        raise NotFoundError(f"mailbox {addr} does not exist")

    def lock_mailbox(self, tenant: str, address: str, reason: str, *, actor: str,
                     expected_version: str | None = None) -> str:
        """Stop a mailbox from sending (mass mail); the reason is kept on the lock."""
        def fn(box: dict) -> str:
            box["locked"] = {"reason": reason, "at": _now_utc(), "by": actor}
            return "lock mailbox"

        return self._mailbox_change(tenant, address, fn, actor=actor, reason=reason,
                                    expected_version=expected_version, monitor_may=True)

    def unlock_mailbox(self, tenant: str, address: str, *, actor: str, reason: str = "",
                       expected_version: str | None = None) -> str:
        def fn(box: dict) -> str:
            box["locked"] = None
            return "unlock mailbox"

        return self._mailbox_change(tenant, address, fn, actor=actor, reason=reason,
                                    expected_version=expected_version, monitor_may=True)

    # --- FTP accounts --------------------------------------------------------------------------

    @staticmethod
    def _prefixed(tenant: str, name: Any, sep: str) -> Any:
        if isinstance(name, str) and not name.startswith(tenant + sep):
            return f"{tenant}{sep}{name}"
        return name

    def add_ftp_account(self, tenant: str, name: str, password: str, *, dir: str = "",
                        actor: str, reason: str = "", expected_version: str | None = None) -> str:
        """An additional FTP account ``<tenant>-<name>`` jailed to ``dir`` of the web area."""
        validate.password(password)

        def mutate(rec: dict, _snap: Snapshot) -> str:
            full = self._prefixed(tenant, name, "-")
            if any(a["name"] == full for a in rec["ftp_accounts"]):
                raise ConflictError(f"FTP account {full} already exists")
            rec["ftp_accounts"].append({"name": full,
                                        "password_hash": hashing.sha512_crypt(password),
                                        "dir": dir})
            return f"add FTP account {full}"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "FTP accounts"))

    def change_ftp_account(self, tenant: str, name: str, *, dir: str | None = None,
                           password: str | None = None, actor: str, reason: str = "",
                           expected_version: str | None = None) -> str:
        if password is not None:
            validate.password(password)

        def mutate(rec: dict, _snap: Snapshot) -> str:
            full = self._prefixed(tenant, name, "-")
            i = self._find(rec["ftp_accounts"], "name", full, f"FTP account {full}")
            what = []
            if dir is not None:
                rec["ftp_accounts"][i]["dir"] = dir
                what.append("dir")
            if password is not None:
                rec["ftp_accounts"][i]["password_hash"] = hashing.sha512_crypt(password)
                what.append("password")
            return f"change FTP account {full} ({', '.join(what) or 'nothing'})"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "FTP accounts"))

    def remove_ftp_account(self, tenant: str, name: str, *, actor: str, reason: str = "",
                           expected_version: str | None = None) -> str:
        def mutate(rec: dict, _snap: Snapshot) -> str:
            full = self._prefixed(tenant, name, "-")
            i = self._find(rec["ftp_accounts"], "name", full, f"FTP account {full}")
            del rec["ftp_accounts"][i]
            return f"remove FTP account {full}"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "FTP accounts"))

    # --- databases -----------------------------------------------------------------------------

    def _db_index(self, rec: dict, engine: str, name: str) -> int:
        full = self._prefixed(rec["id"], name, "_")
        for i, db in enumerate(rec["databases"]):
            if db["engine"] == engine and db["name"] == full:
                return i
        raise NotFoundError(f"{engine} database {full} does not exist")

    def add_database(self, tenant: str, engine: str, name: str, password: str, *,
                     user: str | None = None, actor: str, reason: str = "",
                     expected_version: str | None = None) -> str:
        """A database ``<tenant>_<name>`` with its own user; only the engine's hash is kept."""
        errs = validate.Errors()
        validate.choice(engine, "engine", errs, ("mariadb", "postgresql"))
        errs.raise_if_any()
        validate.password(password)

        def mutate(rec: dict, _snap: Snapshot) -> str:
            full = self._prefixed(tenant, name, "_")
            if any(d["engine"] == engine and d["name"] == full for d in rec["databases"]):
                raise ConflictError(f"{engine} database {full} already exists")
            rec["databases"].append({
                "engine": engine, "name": full,
                "user": self._prefixed(tenant, user, "_") if user else full,
                "password_hash": hashing.DATABASE_HASHERS[engine](password)})
            return f"add {engine} database {full}"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "databases"))

    def set_database_password(self, tenant: str, engine: str, name: str, password: str, *,
                              actor: str, reason: str = "",
                              expected_version: str | None = None) -> str:
        validate.password(password)

        def mutate(rec: dict, _snap: Snapshot) -> str:
            i = self._db_index(rec, engine, name)
            rec["databases"][i]["password_hash"] = hashing.DATABASE_HASHERS[engine](password)
            return f"set password of {engine} database {rec['databases'][i]['name']}"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "databases"))

    def remove_database(self, tenant: str, engine: str, name: str, *, actor: str,
                        reason: str = "", expected_version: str | None = None) -> str:
        def mutate(rec: dict, _snap: Snapshot) -> str:
            i = self._db_index(rec, engine, name)
            full = rec["databases"][i]["name"]
            del rec["databases"][i]
            return f"remove {engine} database {full}"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "databases"))

    # --- DNS -------------------------------------------------------------------------------------

    def set_dns_records(self, tenant: str, domain: str, records: list[dict[str, Any]], *,
                        actor: str, reason: str = "", expected_version: str | None = None) -> str:
        """Replace the records of one of the tenant's zones (name, type, value, ttl each)."""
        if not isinstance(records, list):
            raise ValidationError({"records": "must be a list"})

        def mutate(rec: dict, _snap: Snapshot) -> str:
            zone = self._norm_domain(domain)
            self._find(rec["domains"], "name", zone, f"domain {domain} of tenant {tenant}")
            new = []
            for i, item in enumerate(records):
                item = dict(_require_mapping(item, f"records[{i}]"))
                if item.get("zone", zone) != zone:
                    raise ValidationError({f"records[{i}].zone": f"must be {zone}"})
                item["zone"] = zone
                new.append(item)
            rec["dns_records"] = [r for r in rec["dns_records"] if r["zone"] != zone] + new
            return f"set {len(new)} DNS record(s) of {zone}"

        return self._change_tenant(tenant, mutate, actor=actor, reason=reason,
                                   expected_version=expected_version,
                                   authorize=lambda w, r: self._tenant_actor(w, r, "DNS records"))


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def _printable(text: str, limit: int = 200) -> str:
    """One line of printable text: other characters escaped, long text cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return text if len(text) <= limit else text[:limit] + "..."


def _serialised(fn):
    """Reads of the shared snapshot hold the Store's mutex (threads share a Store)."""
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        with self._mutex:
            return fn(self, *args, **kwargs)
    return wrapper


def _one_line_errors(fn):
    """Errors echo user input (ids, names): make sure each is one printable line."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            clean = {_printable(k, 100): _printable(v, 300) for k, v in exc.errors.items()}
            subject = _printable(exc.subject, 100)
            if clean != exc.errors or subject != exc.subject:
                raise ValidationError(clean, subject=subject) from None
            raise
        except OemhostError as exc:
            message = str(exc)
            if _printable(message, 1000) != message:
                raise type(exc)(_printable(message, 1000)) from None
            raise
    return wrapper


for _name in ("list_nodes", "list_resellers", "list_plans", "list_tenants", "count_tenants",
              "issues"):
    setattr(Store, _name, _serialised(getattr(Store, _name)))

for _name, _member in list(vars(Store).items()):
    if _name.startswith("_"):
        continue
    if isinstance(_member, classmethod):
        setattr(Store, _name, classmethod(_one_line_errors(_member.__func__)))
    elif callable(_member) and not isinstance(_member, staticmethod | property):
        setattr(Store, _name, _one_line_errors(_member))
