"""A consistent, validated view of an inventory's ``state/`` files, kept cheap to refresh.

Used by the store (reads, lists, claims), by ``oemhost inventory check`` and by the
Ansible plugins (``oemhost_state`` inventory plugin, ``oemhost_tenants`` vars plugin).

Why a cache: PyYAML parses a tenant file in about 0.45 ms, so 10,000 tenants cost ~5 s
per run; JSON is ~30x faster. Every state file is parsed and validated once, and the
result is kept in ``<inventory>/.oemhost-cache/cache.sqlite`` (git-ignored, mode 0700)
keyed by the file's ``(mtime_ns, ctime_ns, size, inode)``. A refresh stats every file
(about 20-40 ms for 10,000) and re-parses only what changed. Like git's "racy git" rule, an
entry read less than :data:`RACY_NS` after the file's mtime is never trusted later (a
second write in the same timestamp tick could keep the same stat data), and full tenant
records are matched by content hash (the git blob id), never by stat data alone.

On top of that, :class:`PluginView` keeps the plugins' whole per-node result under a
fingerprint of every file's stat data, so an unchanged inventory is not re-checked.

The cache is an accelerator only: if it cannot be opened or written (read-only
inventory, another user's files, a corrupt database) everything is parsed from the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oemhost.store import layout, yamlio
from oemhost.store.model import SHARED_OWNER

CACHE_FORMAT = "3"
RACY_NS = 2_000_000_000


@dataclass(slots=True)
class Entry:
    path: str
    kind: str  # node | reseller | plan | tenant | unknown
    key: tuple[int, int, int, int]  # (mtime_ns, ctime_ns, size, inode)
    at: int  # time_ns when the file was looked at before reading it
    version: str  # git blob id of the content
    errors: dict[str, str]  # record checks (empty when the record is valid on its own)
    data: Any  # normalised record (node/reseller/plan) or summary (tenant); None if unreadable
    record: dict | None = None  # a tenant's full normalised record, when in memory

    @property
    def name(self) -> str:
        """The file name without ``.yml`` (the record's id)."""
        base = self.path.rsplit("/", 1)[-1]
        return base[:-4] if base.endswith(".yml") else base

    @property
    def parent(self) -> str:
        """The directory the file is in (a plan's reseller)."""
        return self.path.rsplit("/", 2)[-2]

    @property
    def subject(self) -> str:
        if self.kind == "tenant":
            return self.name
        if self.kind == "plan":
            return f"plan:{self.parent}/{self.name}"
        if self.kind in ("node", "reseller"):
            return f"{self.kind}:{self.name}"
        return self.path


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in the state files.

    ``nodes`` are the nodes it blocks (``None``: every node); warnings block nothing.
    """

    subject: str
    field: str
    message: str
    nodes: frozenset[str] | None = None
    severity: str = "error"

    @property
    def line(self) -> str:
        return f"{self.subject}: {self.field}: {self.message}" if self.field else \
            f"{self.subject}: {self.message}"


@dataclass
class _Indexes:
    nodes: dict[str, Entry] = field(default_factory=dict)
    resellers: dict[str, Entry] = field(default_factory=dict)
    plans: dict[tuple[str, str], Entry] = field(default_factory=dict)
    tenants: dict[str, Entry] = field(default_factory=dict)
    unknown: list[Entry] = field(default_factory=list)


class _Cache:
    """The sqlite file behind the snapshot.

    One short-lived connection per operation: nothing stays open across Ansible's forks or
    between a Store's calls. Every method fails soft (the cache is then simply off)."""

    def __init__(self, root: Path) -> None:
        self.path: Path | None = root / layout.CACHE_DIR / "cache.sqlite"
        try:
            self.path.parent.mkdir(mode=0o700, exist_ok=True)
            with self._connect() as db:
                db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
                row = db.execute("SELECT v FROM meta WHERE k='format'").fetchone()
                if row is None or row[0] != CACHE_FORMAT:
                    db.execute("DROP TABLE IF EXISTS entries")
                    db.execute("DROP TABLE IF EXISTS records")
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)",
                               (CACHE_FORMAT,))
                db.execute("CREATE TABLE IF NOT EXISTS entries (path TEXT PRIMARY KEY, "
                           "kind TEXT, mtime INTEGER, ctime INTEGER, size INTEGER, "
                           "ino INTEGER, at INTEGER, version TEXT, errors TEXT, data TEXT)")
                db.execute("CREATE TABLE IF NOT EXISTS records (path TEXT PRIMARY KEY, "
                           "node TEXT, version TEXT, record TEXT)")
                db.execute("CREATE INDEX IF NOT EXISTS records_node ON records (node)")
                db.execute("CREATE TABLE IF NOT EXISTS views (fingerprint TEXT PRIMARY KEY, "
                           "data TEXT)")
        except (OSError, sqlite3.Error):
            self.path = None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        assert self.path is not None
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            yield db
        finally:
            db.close()

    def _run(self, fn, default):
        if self.path is None:
            return default
        try:
            with self._connect() as db:
                return fn(db)
        except sqlite3.Error:
            self.path = None
            return default

    def load_entries(self, kinds: Iterable[str]) -> list[Entry]:
        """The cached entries of the files under the directories of ``kinds``."""
        prefixes = [layout.KIND_DIRS[k] + "/%" for k in sorted(kinds)]

        def select(db: sqlite3.Connection) -> list:
            return [row for prefix in prefixes for row in db.execute(
                "SELECT path, kind, mtime, ctime, size, ino, at, version, errors, data "
                "FROM entries WHERE path LIKE ?", (prefix,))]

        rows = self._run(select, [])
        # one json.loads over all rows is ~2x faster than one per row
        datas = json.loads("[" + ",".join(r[9] for r in rows) + "]") if rows else []
        return [Entry(r[0], r[1], (r[2], r[3], r[4], r[5]), r[6], r[7],
                      json.loads(r[8]) if r[8] else {}, d)
                for r, d in zip(rows, datas, strict=True)]

    def save(self, changed: Iterable[Entry], removed: Iterable[str]) -> None:
        if self.path is None:
            return
        changed = list(changed)
        rows = [(e.path, e.kind, *e.key, e.at, e.version,
                 json.dumps(e.errors, ensure_ascii=False) if e.errors else None,
                 json.dumps(e.data, ensure_ascii=False)) for e in changed]
        recs = [(e.path, e.data.get("node") if isinstance(e.data, dict) else None, e.version,
                 json.dumps(e.record, ensure_ascii=False))
                for e in changed if e.record is not None]
        gone = [(p,) for p in removed]
        stale = gone + [(e.path,) for e in changed if e.kind == "tenant" and e.record is None]

        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            db.executemany("DELETE FROM entries WHERE path = ?", gone)
            db.executemany("DELETE FROM records WHERE path = ?", stale)
            db.executemany("INSERT OR REPLACE INTO records VALUES (?,?,?,?)", recs)
            db.execute("COMMIT")

        self._run(write, None)

    def load_records(self, node: str) -> dict[str, tuple[str, str]]:
        rows = self._run(lambda db: db.execute(
            "SELECT path, version, record FROM records WHERE node = ?", (node,)).fetchall(), [])
        return {r[0]: (r[1], r[2]) for r in rows}

    def load_view(self, fingerprint: str) -> dict | None:
        rows = self._run(lambda db: db.execute(
            "SELECT data FROM views WHERE fingerprint = ?", (fingerprint,)).fetchall(), [])
        return json.loads(rows[0][0]) if rows else None

    def save_view(self, fingerprint: str, view: dict) -> None:
        data = json.dumps(view, ensure_ascii=False)

        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM views")
            db.execute("INSERT INTO views VALUES (?, ?)", (fingerprint, data))
            db.execute("COMMIT")

        self._run(write, None)

    def save_records(self, entries: list[Entry]) -> None:
        if not entries:
            return
        rows = [(e.path, e.data.get("node"), e.version, json.dumps(e.record, ensure_ascii=False))
                for e in entries]

        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO records VALUES (?,?,?,?)", rows)
            db.execute("COMMIT")

        self._run(write, None)


def _dir_kind(path: str) -> str:
    for kind, rel in layout.KIND_DIRS.items():
        if path.startswith(rel + "/"):
            return kind
    return "unknown"


def stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def _dir_stamp(path: Path) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return (0, 0, 0)
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class Snapshot:
    """The validated state of one inventory directory; :meth:`refresh` brings it up to date."""

    #: longest time a list view may go without a full scan while no directory changes
    QUIET_MAX_AGE = 30.0

    def __init__(self, root: Path | str, *, use_cache: bool = True) -> None:
        self.root = Path(root)
        self.entries: dict[str, Entry] = {}
        self.generation = 0
        self._cache = _Cache(self.root) if use_cache else None
        self._loaded_kinds: set[str] = set()
        self._full_scan_at = 0.0
        self._dir_stamps: dict[str, tuple[int, int, int]] = {}
        self._ix = _Indexes()
        self._issues: list[Issue] | None = None
        self._claims: dict[str, set[str]] | None = None
        self._by_node: tuple[int, dict[str, list[str]]] | None = None
        self._bad_tenants: set[str] = set()
        #: files found changed while loading tenant records after the refresh
        self.late_changes: list[str] = []

    # --- reading the files ------------------------------------------------------------

    def _scan(self, kinds: set[str]) -> dict[str, tuple[str, tuple[int, int, int, int]]]:
        found: dict[str, tuple[str, tuple[int, int, int, int]]] = {}

        stamps: dict[str, tuple[int, int, int]] = {}
        started = time.time_ns()

        def visit(rel: str, kind: str, depth: int) -> None:
            stamps[rel] = _dir_stamp(self.root / rel)  # before listing: a later rename shows
            try:
                it = os.scandir(self.root / rel)
            except (FileNotFoundError, NotADirectoryError):
                return
            with it:
                for de in it:
                    name = de.name
                    if name[0] == "." or name[-1] == "~":
                        continue
                    path = f"{rel}/{name}"
                    if depth and de.is_dir(follow_symlinks=False):
                        visit(path, kind, depth - 1)
                        continue
                    try:
                        st = de.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    ok = name.endswith(".yml") and (kind != "plan" or depth == 0) and \
                        de.is_file(follow_symlinks=False)
                    found[path] = (kind if ok else "unknown",
                                   (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino))

        for kind, rel in layout.KIND_DIRS.items():
            if kind in kinds:
                visit(rel, kind, 1 if kind == "plan" else 0)
        if kinds == set(layout.KIND_DIRS):
            # a directory changed within the clock's granularity of this scan may change
            # again without its stamp moving: such a scan is not trusted (racy git's rule)
            racy = any(st[0] + RACY_NS >= started or st[1] + RACY_NS >= started
                       for st in stamps.values())
            self._dir_stamps = {} if racy else stamps
        return found

    def _dirs_unchanged(self) -> bool:
        """True if no state directory has had a file created, renamed or removed since the
        last full scan (the store, git and editors all write by rename)."""
        return bool(self._dir_stamps) and all(
            _dir_stamp(self.root / rel) == stamp for rel, stamp in self._dir_stamps.items())

    def _parse(self, path: str, kind: str, key: str, at: int) -> Entry | None:
        from oemhost.store.validate import check_record, tenant_summary

        try:
            raw = (self.root / path).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return Entry(path, "unknown", key, at, "", {"": f"cannot read: {exc.strerror}"}, None)
        version = yamlio.blob_id(raw)
        if kind == "unknown":
            return Entry(path, kind, key, at, version,
                         {"": "not a state file (expected <name>.yml; it is ignored)"}, None)
        try:
            data = yamlio.loads(raw, source=path)
        except yamlio.StateFileError as exc:
            return Entry(path, kind, key, at, version, dict(exc.errors), None)
        rec, errors = check_record(kind, data)
        errors = dict(errors)
        if rec is not None:
            errors.update(_path_errors(kind, path, rec))
        if kind == "tenant":
            summary = tenant_summary(rec) if rec is not None else None
            return Entry(path, kind, key, at, version, errors, summary,
                         rec if rec is not None and not errors else None)
        return Entry(path, kind, key, at, version, errors, rec)

    def refresh(self, kinds: Iterable[str] | None = None, *,
                max_age: float | None = None) -> bool:
        """Re-read what changed on disk; True if anything did.

        ``kinds`` limits the scan to those directories; ``max_age`` skips the scan if a full
        one ran less than that many seconds ago (for list views; writes never pass it)."""
        everything = set(layout.KIND_DIRS)
        wanted = set(kinds) if kinds is not None else everything
        if max_age is not None and wanted == everything == self._loaded_kinds:
            age = time.monotonic() - self._full_scan_at
            # a list view re-reads at most every max_age seconds; in between full scans
            # (every QUIET_MAX_AGE at the latest, for a file edited in place) a stat of the
            # few state directories tells whether anything was written by rename
            if age < max_age or (age < self.QUIET_MAX_AGE and self._dirs_unchanged()):
                return False
        # the cached entries of a kind are loaded the first time that kind is asked for, so
        # a write to one tenant never has to load the other 10,000
        new_kinds = wanted - self._loaded_kinds
        if new_kinds and self._cache is not None:
            for e in self._cache.load_entries(new_kinds):
                self.entries.setdefault(e.path, e)
        self._loaded_kinds |= wanted
        if wanted == everything:
            self._full_scan_at = time.monotonic()
        at = time.time_ns()
        scanned = self._scan(wanted)
        changed: list[Entry] = []
        for path, (kind, key) in scanned.items():
            old = self.entries.get(path)
            if old is not None and old.kind == kind and old.key == key and \
                    key[0] + RACY_NS < old.at:
                continue
            new = self._parse(path, kind, key, at)
            if new is not None:
                changed.append(new)
        removed = [p for p in self.entries if p not in scanned and _dir_kind(p) in wanted]
        if self._cache is not None and (changed or removed):
            self._cache.save(changed, removed)
        if self.generation == 0 or new_kinds:
            self.entries.update((e.path, e) for e in changed)
            for p in removed:
                del self.entries[p]
            self._reindex()
        elif changed or removed:
            self._apply(changed, removed)
        else:
            return False
        self.generation += 1
        return True

    def note_written(self, path: str, kind: str, record: dict | None, raw: bytes | None) -> None:
        """Record a file the store has just written (or removed) without re-parsing it."""
        from oemhost.store.validate import tenant_summary

        if raw is None:
            if self._cache is not None:
                self._cache.save([], [path])
            self._apply([], [path])
        else:
            st = os.stat(self.root / path)
            data = tenant_summary(record) if kind == "tenant" else record
            entry = Entry(path, kind, stat_key(st), time.time_ns(), yamlio.blob_id(raw), {},
                          data, record if kind == "tenant" else None)
            if self._cache is not None:
                self._cache.save([entry], [])
            self._apply([entry], [])
        self.generation += 1

    def _apply(self, changed: list[Entry], removed: list[str]) -> None:
        """Update the entries and the indexes in place (cheaper than a full re-index)."""
        if len(changed) + len(removed) > 200:
            self.entries.update((e.path, e) for e in changed)
            for p in removed:
                self.entries.pop(p, None)
            self._reindex()
            return
        for p in removed:
            old = self.entries.pop(p, None)
            if old is not None:
                self._index_drop(old)
        for e in changed:
            old = self.entries.get(e.path)
            if old is not None:
                self._index_drop(old)
            self.entries[e.path] = e
            self._index_put(e)
        self._issues = None

    def _index_put(self, e: Entry) -> None:
        ix = self._ix
        if e.kind == "tenant":
            ix.tenants[e.name] = e
            if self._claims is not None:
                self._claim(e)
        elif e.kind == "node":
            ix.nodes[e.name] = e
        elif e.kind == "reseller":
            ix.resellers[e.name] = e
        elif e.kind == "plan":
            ix.plans[(e.parent, e.name)] = e
        else:
            ix.unknown.append(e)

    def _index_drop(self, e: Entry) -> None:
        ix = self._ix
        if e.kind == "tenant":
            ix.tenants.pop(e.name, None)
            if self._claims is not None and isinstance(e.data, dict):
                for name, aliases in e.data.get("domains") or ():
                    for n in (name, *aliases):
                        self._claims.get(n, set()).discard(e.name)
        elif e.kind == "node":
            ix.nodes.pop(e.name, None)
        elif e.kind == "reseller":
            ix.resellers.pop(e.name, None)
        elif e.kind == "plan":
            ix.plans.pop((e.parent, e.name), None)
        else:
            ix.unknown = [u for u in ix.unknown if u.path != e.path]

    def _reindex(self) -> None:
        self._ix = _Indexes()
        self._claims = None
        for e in self.entries.values():
            self._index_put(e)
        self._issues = None

    # --- lookups -----------------------------------------------------------------------

    @property
    def nodes(self) -> dict[str, Entry]:
        return self._ix.nodes

    @property
    def resellers(self) -> dict[str, Entry]:
        return self._ix.resellers

    @property
    def plans(self) -> dict[tuple[str, str], Entry]:
        return self._ix.plans

    @property
    def tenants(self) -> dict[str, Entry]:
        return self._ix.tenants

    def valid(self, entry: Entry | None) -> dict | None:
        """The normalised record (or tenant summary) of an entry without record errors."""
        if entry is None or entry.errors or entry.data is None:
            return None
        return entry.data

    def node(self, name: str) -> dict | None:
        return self.valid(self.nodes.get(name))

    def reseller(self, rid: str) -> dict | None:
        return self.valid(self.resellers.get(rid))

    def plan(self, rid: str, pid: str) -> dict | None:
        return self.valid(self.plans.get((rid, pid)))

    def _claim(self, e: Entry) -> None:
        assert self._claims is not None
        if isinstance(e.data, dict):
            for name, aliases in e.data.get("domains") or ():
                for n in (name, *aliases):
                    if n:
                        self._claims.setdefault(n, set()).add(e.name)

    def holders(self, name: str) -> set[str]:
        """The tenants whose domains or aliases include ``name``."""
        if self._claims is None:
            self._claims = {}
            for e in self.tenants.values():
                self._claim(e)
        return self._claims.get(name, set())

    # --- validation across records -----------------------------------------------------

    def relation_errors(self, summary: dict) -> dict[str, str]:
        """A tenant summary against the reseller, plan and node in this snapshot."""
        from oemhost.store.validate import tenant_relation_errors

        rid, pid, nid = summary.get("reseller"), summary.get("plan"), summary.get("node")
        errors: dict[str, str] = {}
        broken = [(what, e) for what, e in (
            ("reseller", self.resellers.get(rid)), ("plan", self.plans.get((rid, pid))),
            ("node", self.nodes.get(nid))) if e is not None and e.errors]
        for what, e in broken:
            errors[what] = f"{e.subject} is invalid (see its own errors)"
        if broken:
            return errors
        return tenant_relation_errors(summary, plan=self.plan(rid, pid),
                                      reseller=self.reseller(rid), node=self.node(nid))

    def tenant_errors(self, tid: str) -> dict[str, str]:
        """Record errors, relation errors and domain conflicts of one tenant."""
        e = self.tenants.get(tid)
        if e is None:
            return {}
        errors = dict(e.errors)
        s = e.data if isinstance(e.data, dict) else None
        if s is None:
            return errors
        if not errors:
            errors.update(self.relation_errors(s))
        for name, aliases in s.get("domains") or ():
            for n in (name, *aliases):
                others = self.holders(n) - {tid} if n else set()
                if others:
                    errors.setdefault("domains", f"{n} is also used by tenant "
                                                 f"{', '.join(sorted(others))}")
        return errors

    def issues(self) -> list[Issue]:
        if self._issues is None:
            self._issues = self._compute_issues()
        return self._issues

    def _compute_issues(self) -> list[Issue]:
        issues: list[Issue] = []
        ix = self._ix
        by_node: dict[str, set[str]] = defaultdict(set)
        by_plan: dict[tuple[str, str], set[str]] = defaultdict(set)
        by_reseller: dict[str, set[str]] = defaultdict(set)
        owned: dict[str, set[str]] = defaultdict(set)
        for tid, e in ix.tenants.items():
            s = e.data if isinstance(e.data, dict) else None
            if s and s.get("node") in ix.nodes:
                by_node[s["node"]].add(tid)
                by_plan[(s.get("reseller"), s.get("plan"))].add(s["node"])
                by_reseller[s.get("reseller")].add(s["node"])
        for name, e in ix.nodes.items():
            if isinstance(e.data, dict):
                owned[e.data.get("owner")].add(name)

        def add(entry_subject: str, errors: dict[str, str], nodes, severity="error"):
            for f, m in errors.items():
                issues.append(Issue(entry_subject, f, m, nodes, severity))

        for e in ix.unknown:
            add(e.subject, e.errors, frozenset(), "warning")
        for name, e in ix.nodes.items():
            add(e.subject, e.errors, frozenset({name}))
            d = self.valid(e)
            if d and d["owner"] != SHARED_OWNER and d["owner"] not in ix.resellers:
                add(e.subject, {"owner": f"reseller {d['owner']!r} does not exist"},
                    frozenset({name}))
        for rid, e in ix.resellers.items():
            add(e.subject, e.errors, frozenset(by_reseller[rid] | owned[rid]))
        for key, e in ix.plans.items():
            add(e.subject, e.errors, frozenset(by_plan[key]))
            if key[0] not in ix.resellers:
                add(e.subject, {"reseller": f"reseller {key[0]!r} does not exist"},
                    frozenset(by_plan[key]))

        bad: set[str] = set()
        for tid, e in ix.tenants.items():
            s = e.data if isinstance(e.data, dict) else None
            nodes = frozenset({s["node"]}) if s and s.get("node") in ix.nodes else None
            errors = self.tenant_errors(tid)
            if errors:
                bad.add(tid)
                add(tid, errors, nodes)
        issues.extend(self._capacity_warnings())
        self._bad_tenants = bad
        return issues

    def _capacity_warnings(self) -> list[Issue]:
        out: list[Issue] = []
        count: dict[str, int] = defaultdict(int)
        disk: dict[str, int] = defaultdict(int)
        ncount: dict[str, int] = defaultdict(int)
        ndisk: dict[str, int] = defaultdict(int)
        for e in self.tenants.values():
            s = e.data
            if not isinstance(s, dict) or s.get("status") == "removed":
                continue
            plan = self.plan(s.get("reseller"), s.get("plan"))
            total = plan["disk_mb"] if plan else 0
            count[s.get("reseller")] += 1
            disk[s.get("reseller")] += total
            ncount[s.get("node")] += 1
            ndisk[s.get("node")] += total
        for rid, e in self.resellers.items():
            r = self.valid(e)
            if not r:
                continue
            lim = r["limits"]
            if count[rid] > lim["tenants"]:
                out.append(Issue(e.subject, "limits.tenants",
                                 f"{count[rid]} tenants, the limit is {lim['tenants']}",
                                 frozenset(), "warning"))
            if not lim["oversell"] and disk[rid] > lim["disk_mb"]:
                out.append(Issue(e.subject, "limits.disk_mb",
                                 f"plans total {disk[rid]} MB, the limit is {lim['disk_mb']} MB "
                                 "(oversell is off)", frozenset(), "warning"))
        for name, e in self.nodes.items():
            n = self.valid(e)
            if not n:
                continue
            cap = n["capacity"]
            if ncount[name] > cap["tenants"]:
                out.append(Issue(e.subject, "capacity.tenants",
                                 f"{ncount[name]} tenants, the capacity is {cap['tenants']}",
                                 frozenset(), "warning"))
            if ndisk[name] > cap["disk_mb"]:
                out.append(Issue(e.subject, "capacity.disk_mb",
                                 f"plans total {ndisk[name]} MB, the capacity is "
                                 f"{cap['disk_mb']} MB", frozenset(), "warning"))
        return out

    def errors(self) -> list[Issue]:
        return [i for i in self.issues() if i.severity == "error"]

    def errors_for_node(self, node: str) -> list[str]:
        """``oemhost_inventory_errors`` of one node: its own and those that block every node."""
        return [i.line for i in self.errors() if i.nodes is None or node in i.nodes]

    def tenant_ok(self, tid: str) -> bool:
        self.issues()
        return tid in self.tenants and tid not in self._bad_tenants

    # --- full tenant records -------------------------------------------------------------

    def tenant_ids(self, node: str) -> list[str]:
        """Ids of the tenant files naming ``node`` (any status, valid or not), sorted."""
        if self._by_node is None or self._by_node[0] != self.generation:
            by_node: dict[str, list[str]] = defaultdict(list)
            for tid, e in self.tenants.items():
                if isinstance(e.data, dict):
                    by_node[e.data.get("node")].append(tid)
            self._by_node = (self.generation, {n: sorted(t) for n, t in by_node.items()})
        return list(self._by_node[1].get(node, ()))

    def node_records(self, node: str) -> list[dict]:
        """Full normalised records of the valid tenants placed on ``node``, by id."""
        self.issues()
        wanted = [self.tenants[t] for t in self.tenant_ids(node) if t not in self._bad_tenants]
        missing = [e for e in wanted if e.record is None]
        if missing and self._cache is not None:
            stored = self._cache.load_records(node)
            for e in missing:
                hit = stored.get(e.path)
                if hit and hit[0] == e.version:
                    e.record = json.loads(hit[1])
        fetched: list[Entry] = []
        out: list[dict] = []
        for e in wanted:
            if e.record is None:
                fresh = self._parse(e.path, "tenant", e.key, time.time_ns())
                if fresh is None or fresh.version != e.version:
                    # changed since the snapshot was taken: keep the snapshot's view
                    # consistent by leaving it out; the next run picks it up
                    self.late_changes.append(e.path)
                    continue
                e.record = fresh.record
                if e.record is not None:
                    fetched.append(e)
            if e.record is not None:
                out.append(e.record)
        if self._cache is not None:
            self._cache.save_records(fetched)
        return out

    def tenant_record(self, tid: str) -> dict | None:
        e = self.tenants.get(tid)
        if e is None:
            return None
        if e.record is None:
            fresh = self._parse(e.path, "tenant", e.key, time.time_ns())
            e.record = fresh.record if fresh and fresh.version == e.version else None
        return e.record

    def export_tenant(self, record: dict) -> dict:
        """A tenant as the roles see it: the record plus ``limits`` and ``reseller_brand``."""
        out = dict(record)
        out["limits"] = self.plan(record["reseller"], record["plan"])
        reseller = self.reseller(record["reseller"])
        out["reseller_brand"] = reseller["brand"] if reseller else None
        return out

    def node_vars(self, node: str) -> dict[str, list[dict]]:
        tenants: list[dict] = []
        removed: list[dict] = []
        for rec in self.node_records(node):
            (removed if rec["status"] == "removed" else tenants).append(self.export_tenant(rec))
        return {"oemhost_tenants": tenants, "oemhost_removed_tenants": removed}

def _path_errors(kind: str, path: str, rec: dict) -> dict[str, str]:
    p = Path(path)
    if kind == "tenant" and rec.get("id") and rec["id"] != p.stem:
        return {"id": f"must match the file name ({p.stem}.yml)"}
    if kind == "node" and rec.get("name") and rec["name"] != p.stem:
        return {"name": f"must match the file name ({p.stem}.yml)"}
    if kind == "reseller" and rec.get("id") and rec["id"] != p.stem:
        return {"id": f"must match the file name ({p.stem}.yml)"}
    if kind == "plan":
        errors = {}
        if rec.get("id") and rec["id"] != p.stem:
            errors["id"] = f"must match the file name ({p.stem}.yml)"
        if rec.get("reseller") and rec["reseller"] != p.parent.name:
            errors["reseller"] = f"must match the directory (state/plans/{p.parent.name}/)"
        return errors
    return {}


# --- what the Ansible plugins need, cached as a whole ----------------------------------------

def _fingerprint(items: Iterable[tuple[str, tuple[int, int, int, int]]]) -> str:
    h = hashlib.sha256(CACHE_FORMAT.encode())
    for path, key in sorted(items):
        h.update(f"{path}\0{key[0]}:{key[1]}:{key[2]}:{key[3]}\n".encode())
    return h.hexdigest()


class PluginView:
    """Per-node results for the plugins: node record, errors, tenant ids, and which tenant
    file versions a node's play gets.

    Built from a full, validated snapshot and kept in the cache under a fingerprint of
    every state file's stat data. When no state file changed since (and none is recent
    enough to be "racy"), a run reuses it without loading or checking the 10,000 entries;
    a node's tenant records then come from the record cache, matched by content hash."""

    def __init__(self, root: Path | str) -> None:
        self.snapshot = Snapshot(root)
        self.data: dict = {}
        self.late_changes: list[str] = []
        self._node_vars: dict[str, dict] = {}

    def load(self) -> PluginView:
        snap = self.snapshot
        cache = snap._cache
        at = time.time_ns()
        scanned = snap._scan(set(layout.KIND_DIRS))
        racy = any(key[0] + RACY_NS >= at for _kind, key in scanned.values())
        if cache is not None and not racy:
            hit = cache.load_view(_fingerprint((p, k) for p, (_kind, k) in scanned.items()))
            if hit is not None:
                self.data = hit
                return self
        snap.refresh()
        self.data = self._build()
        if cache is not None and not any(e.key[0] + RACY_NS >= e.at
                                         for e in snap.entries.values()):
            cache.save_view(_fingerprint((e.path, e.key) for e in snap.entries.values()),
                            self.data)
        return self

    def _build(self) -> dict:
        snap = self.snapshot
        snap.issues()
        nodes = {}
        for name, e in sorted(snap.nodes.items()):
            ids = snap.tenant_ids(name)
            nodes[name] = {
                "node": snap.valid(e),
                "errors": snap.errors_for_node(name),
                "tenant_ids": ids,
                "tenants": [[snap.tenants[t].path, snap.tenants[t].version]
                            for t in ids if snap.tenant_ok(t)],
            }
        return {
            "nodes": nodes,
            "plans": {f"{r}/{p}": snap.valid(e) for (r, p), e in snap.plans.items()},
            "brands": {r: (snap.valid(e) or {}).get("brand") for r, e in snap.resellers.items()},
        }

    def node_vars(self, node: str) -> dict[str, list[dict]]:
        """``oemhost_tenants`` and ``oemhost_removed_tenants`` of one node."""
        if node in self._node_vars:
            return self._node_vars[node]
        from oemhost.store.validate import check_tenant

        snap = self.snapshot
        info = self.data["nodes"].get(node) or {"tenants": []}
        stored = snap._cache.load_records(node) if snap._cache is not None else {}
        fetched: list[Entry] = []
        tenants: list[dict] = []
        removed: list[dict] = []
        for path, version in info["tenants"]:
            hit = stored.get(path)
            if hit and hit[0] == version:
                record = json.loads(hit[1])
            else:
                try:
                    raw = (snap.root / path).read_bytes()
                except FileNotFoundError:
                    raw = b""
                record = None
                if yamlio.blob_id(raw) == version:
                    record, errors = check_tenant(yamlio.loads(raw, source=path))
                    if errors:
                        record = None
                if record is None:
                    # changed since the view was taken: leave it to the next run
                    self.late_changes.append(path)
                    continue
                fetched.append(Entry(path, "tenant", (0, 0, 0, 0), 0, version, {},
                                     {"node": node}, record))
            out = dict(record)
            out["limits"] = self.data["plans"].get(f"{record['reseller']}/{record['plan']}")
            out["reseller_brand"] = self.data["brands"].get(record["reseller"])
            (removed if record["status"] == "removed" else tenants).append(out)
        if snap._cache is not None and fetched:
            snap._cache.save_records(fetched)
        self._node_vars[node] = {"oemhost_tenants": tenants, "oemhost_removed_tenants": removed}
        return self._node_vars[node]


_PROCESS_VIEWS: dict[str, PluginView] = {}


def plugin_view(root: Path | str, *, reload: bool = False) -> PluginView:
    """The view this process uses for ``root``: the inventory plugin (re)loads it once per
    inventory parse, the vars plugin then reads the same one."""
    key = os.path.realpath(root)
    view = _PROCESS_VIEWS.get(key)
    if view is None or reload:
        view = _PROCESS_VIEWS[key] = PluginView(key).load()
    return view


def is_inventory(root: Path | str) -> bool:
    root = Path(root)
    return (root / layout.PLUGIN_CONFIG).is_file() and (root / layout.STATE_DIR).is_dir()
