"""Callback plugin: keep Ansible's built module payloads (AnsiballZ) from one run to the next."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import time
from pathlib import Path

import ansible
from ansible import constants as C
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
    that can change between runs, so a change simply starts a fresh directory. At the
    start of each play (all its roles loaded, none of its tasks run yet) the digest is
    taken over ansible-core's and Python's versions; every directory the module and
    module_utils loaders search at that moment (the configured ones, each role's and
    each playbook's library/ and module_utils/) with the stat (mtime, size) of every file
    in them; and each collection's MANIFEST.json (a collection without one is scanned file
    by file). ansible-core's own directories count by its version. When a later play
    brings new directories, the run moves to the directory of the new digest.
  - ansible-core's own locking keeps concurrent runs from building the same payload twice
    or reading half-written ones. Directories not used for 7 days are removed.
  - E(OEMHOST_ANSIBALLZ_CACHE=0) turns it off.
options: {}
"""

ENV_SWITCH = "OEMHOST_ANSIBALLZ_CACHE"
CACHE_DIR_NAME = "ansiballz_cache"  # the name ansible-core uses inside the run's temporary dir
KEEP_UNUSED_SECONDS = 7 * 24 * 3600
ANSIBLE_DIR = Path(ansible.__file__).resolve().parent


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
    from ansible.utils.collection_loader import AnsibleCollectionConfig

    roots = [Path(p) for p in C.COLLECTIONS_PATHS or []]
    roots += [Path(p) / "collections" for p in AnsibleCollectionConfig.playbook_paths or []]
    roots += [Path(p) for p in sys.path if p]
    out = []
    for r in roots:
        ac = r if r.name == "ansible_collections" else r / "ansible_collections"
        if ac.is_dir() and ac.resolve() not in out:
            out.append(ac.resolve())
    return out


def loader_dirs() -> tuple[list[str], list[str]]:
    """The directories ansible-core's module and module_utils loaders search now."""
    from ansible.plugins.loader import module_loader, module_utils_loader

    return (list(module_loader._get_paths()),  # noqa: SLF001 - ansible-core is pinned
            list(module_utils_loader._get_paths(subdirs=False)))  # noqa: SLF001


def cache_key(module_dirs: list[str], module_utils_dirs: list[str],
              collection_roots: list[Path]) -> str:
    """A digest of what the payloads built from these directories are built from."""
    digest = hashlib.sha256()
    for part in (ansible_version, sys.version, sys.executable):
        digest.update(repr(part).encode() + b"\n")
    own = str(ANSIBLE_DIR) + os.sep
    # the module loader lists each subdirectory itself; module_utils are packages
    for dirs, patterns in ((module_dirs, ("*",)), (module_utils_dirs, ("**/*",))):
        for d in dirs:
            digest.update(repr(d).encode() + b"\n")
            if not (d + os.sep).startswith(own):  # ansible-core's own: its version says it
                _scan(digest, Path(d), patterns)
    for ac in collection_roots:
        digest.update(repr(str(ac)).encode() + b"\n")
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


def point(run_tmp: Path, base: Path, key: str) -> Path | None:
    """Make run_tmp/ansiballz_cache a link to base/<key>; the directory used, or None.

    Called between plays only (no task is building a payload then)."""
    link = run_tmp / CACHE_DIR_NAME
    if link.exists() and not link.is_symlink():  # ansible-core's own: leave it
        return None
    target = base / key
    if not (_private_dir(base) and _private_dir(target)):
        detach(run_tmp)
        return None
    if link.is_symlink() and os.readlink(link) == str(target):
        return target
    os.utime(target)  # used now: kept by the pruning
    new = run_tmp / (CACHE_DIR_NAME + ".new")
    new.unlink(missing_ok=True)
    new.symlink_to(target, target_is_directory=True)
    os.replace(new, link)
    _prune(base, target)
    return target


def detach(run_tmp: Path) -> None:
    """Back to a cache of this run's own (when the persistent one cannot be trusted)."""
    link = run_tmp / CACHE_DIR_NAME
    if link.is_symlink():
        link.unlink()
        link.mkdir(mode=0o700)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "oemhost_ansiballz_cache"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        self.cache_dir: Path | None = None
        self._enabled = os.environ.get(ENV_SWITCH, "1").strip().lower() not in (
            "0", "false", "no", "off")
        self._seen: tuple | None = None

    def v2_playbook_on_play_start(self, play):
        if not self._enabled:
            return
        run_tmp = Path(C.DEFAULT_LOCAL_TMP)
        try:
            dirs = loader_dirs()
            roots = _collection_roots()
            seen = (dirs, roots)
            if seen != self._seen:  # the same directories as the last play: same digest
                self._seen = seen
                self.cache_dir = point(run_tmp, Path(C.ANSIBLE_HOME) / "oemhost" / "ansiballz",
                                       cache_key(*dirs, roots))
        except (OSError, AttributeError) as exc:
            # a cache only: the run goes on with a cache of its own
            self._enabled = False
            self.cache_dir = None
            try:
                detach(run_tmp)
            except OSError:
                pass
            self._display.warning(f"oemhost_ansiballz_cache: not used ({exc})")
