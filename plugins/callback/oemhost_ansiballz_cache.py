"""Callback plugin: keep Ansible's built module payloads (AnsiballZ) from one run to the next."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import time
from pathlib import Path

from ansible import constants as C
from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ansible_version

DOCUMENTATION = """
name: oemhost_ansiballz_cache
type: aggregate
short_description: keep the controller's built module payloads between runs
description:
  - Before a task runs a Python module, the controller builds its payload. It parses the
    module and, recursively, every module_utils file it imports (C(ansible.module_utils.basic)
    alone is about 40 files) and zips them. ansible-core caches the result, but only in the
    run's own temporary directory, so every run builds every module it uses again, in the
    task's forked worker, on the task's critical path (0.1-0.2 s per distinct module).
  - This plugin points that per-run cache directory at a persistent one under
    C(ANSIBLE_HOME) (mode 0700, owned by the user), so a module is built once and reused by
    later runs until something it could be built from changes.
  - The persistent directory is named by a digest of everything a payload is built from
    that can change between runs, so a change simply starts a fresh directory. The digest
    covers ansible-core's and Python's versions; the module, module_utils, role and
    collection paths; the stat (mtime, size) of every file in the module and module_utils
    directories (library/, plugins/module_utils/, each role's library/ and module_utils/,
    and those beside each playbook); and each installed collection's MANIFEST.json (a
    collection without one is scanned file by file).
  - ansible-core's own locking keeps concurrent runs from building the same payload twice
    or reading half-written ones. Directories not used for 7 days are removed.
  - E(OEMHOST_ANSIBALLZ_CACHE=0) turns it off.
options: {}
"""

ENV_SWITCH = "OEMHOST_ANSIBALLZ_CACHE"
CACHE_DIR_NAME = "ansiballz_cache"  # the name ansible-core uses inside the run's temporary dir
KEEP_UNUSED_SECONDS = 7 * 24 * 3600


def _private_dir(path: Path) -> bool:
    """Make path (0700) if missing; True only if it is a real directory that only we can write."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.lstat()
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _scan(digest, root: Path, patterns: tuple[str, ...] = ("**/*",)) -> None:
    """Feed the digest with the stat of every file under root that matches a pattern."""
    if not root.is_dir():
        return
    seen = []
    for pattern in patterns:
        for p in root.glob(pattern):
            try:
                st = p.stat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                seen.append(f"{p}\0{st.st_mtime_ns}\0{st.st_size}")
    for line in sorted(seen):
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")


def _collection_roots() -> list[Path]:
    roots = [Path(p) for p in C.COLLECTIONS_PATHS or []]
    roots += [Path(p) for p in sys.path if p]
    out = []
    for r in roots:
        ac = r if r.name == "ansible_collections" else r / "ansible_collections"
        if ac.is_dir() and ac.resolve() not in out:
            out.append(ac.resolve())
    return out


def cache_key() -> str:
    """A digest of what the payloads of this run would be built from."""
    digest = hashlib.sha256()
    # the playbooks' own directories count by what they hold (library/, roles/...), so that
    # the playbooks of one directory share their payloads
    playbook_dirs = sorted({Path(p).resolve().parent for p in (context.CLIARGS.get("args") or ())})
    for part in (ansible_version, sys.version, sys.executable, C.DEFAULT_MODULE_PATH,
                 C.DEFAULT_MODULE_UTILS_PATH, C.COLLECTIONS_PATHS, C.DEFAULT_ROLES_PATH):
        digest.update(repr(part).encode() + b"\n")
    for d in (C.DEFAULT_MODULE_PATH or []) + (C.DEFAULT_MODULE_UTILS_PATH or []):
        _scan(digest, Path(d))
    role_roots = [Path(d) for d in C.DEFAULT_ROLES_PATH or []]
    for pd in playbook_dirs:
        _scan(digest, pd, ("library/**/*", "module_utils/**/*"))
        role_roots.append(pd / "roles")
    for r in role_roots:
        _scan(digest, r, ("*/library/**/*", "*/module_utils/**/*"))
    for ac in _collection_roots():
        for coll in sorted(ac.glob("*/*")):
            manifest = coll / "MANIFEST.json"
            if manifest.is_file():
                _scan(digest, coll, ("MANIFEST.json",))
            else:  # a collection checked out from source: every module and module_util
                _scan(digest, coll, ("plugins/modules/**/*", "plugins/module_utils/**/*"))
    return digest.hexdigest()[:24]


def _prune(base: Path, keep: Path) -> None:
    now = time.time()
    for d in base.iterdir():
        if d == keep or not d.is_dir() or d.is_symlink():
            continue
        try:
            if now - d.stat().st_mtime > KEEP_UNUSED_SECONDS:
                shutil.rmtree(d)
        except OSError:
            pass


def install(run_tmp: Path, base: Path) -> Path | None:
    """Make run_tmp/ansiballz_cache a link to base/<key>; the directory used, or None."""
    link = run_tmp / CACHE_DIR_NAME
    if link.exists() or link.is_symlink():  # already built into: leave ansible-core's own
        return None
    if not (_private_dir(base) and _private_dir(base / (key := cache_key()))):
        return None
    target = base / key
    os.utime(target)  # used now: kept by the pruning
    link.symlink_to(target, target_is_directory=True)
    _prune(base, target)
    return target


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "oemhost_ansiballz_cache"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        self.cache_dir: Path | None = None
        if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
            return
        try:
            self.cache_dir = install(Path(C.DEFAULT_LOCAL_TMP),
                                     Path(C.ANSIBLE_HOME) / "oemhost" / "ansiballz")
        except OSError as exc:  # a cache only: the run goes on building its payloads
            self._display.warning(f"oemhost_ansiballz_cache: not used ({exc})")
