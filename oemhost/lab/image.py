"""The lab's cached Debian 12 node image.

Built once with debootstrap (mirror taken from the host's own apt sources, never
hard-coded), the hosting packages installed in a chroot with their services disabled, then
kept read-only under ``/var/cache/oemhost/lab/images/<key>/rootfs``. Every lab node is an
overlay on top of it, so creating a node takes well under a second.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from oemhost.lab.system import LabError, run

SUITE = "bookworm"
CACHE_DIR = Path(os.environ.get("OEMHOST_LAB_CACHE", "/var/cache/oemhost/lab"))
PACKAGES_FILE = Path(__file__).with_name("image-packages.txt")
# Bump when the build steps below change in a way that alters the image.
IMAGE_RECIPE = "3"
DEBOOTSTRAP_INCLUDE = "openssh-server,python3,iproute2,systemd,systemd-sysv,dbus"

# Services that come with the packages but belong to the roles: installed, not enabled.
DISABLED_UNITS = [
    "apache2.service", "apache-htcacheclean.service", "php8.2-fpm.service",
    "postfix.service", "dovecot.service", "pure-ftpd.service", "mariadb.service",
    "postgresql.service", "named.service", "policyd-rate-limit.service",
    "unattended-upgrades.service", "apt-daily.timer", "apt-daily-upgrade.timer",
    "systemd-timesyncd.service", "postfwd.service", "e2scrub_all.timer", "fstrim.timer",
    "man-db.timer", "logrotate.timer",
    "btrfs-scrub@-.timer",
]


def packages() -> list[str]:
    lines = PACKAGES_FILE.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def image_key() -> str:
    h = hashlib.sha256()
    h.update(f"{SUITE}\n{IMAGE_RECIPE}\n{DEBOOTSTRAP_INCLUDE}\n".encode())
    h.update("\n".join(packages()).encode())
    return h.hexdigest()[:12]


def image_dir() -> Path:
    return CACHE_DIR / "images" / image_key()


def image_rootfs() -> Path | None:
    """The ready image's root file system, or None when it is not built yet."""
    d = image_dir()
    return d / "rootfs" if (d / "ready").exists() else None


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas, cur = [], {}
    for line in text.splitlines():
        if not line.strip():
            if cur:
                stanzas.append(cur)
            cur = {}
            continue
        if line.startswith("#") or line[0].isspace():
            continue
        key, _, value = line.partition(":")
        cur[key.strip().lower()] = value.strip()
    if cur:
        stanzas.append(cur)
    return stanzas


def host_mirrors(etc: Path = Path("/etc/apt")) -> tuple[str, str | None]:
    """(Debian mirror URI, security mirror URI or None) from the host's apt sources."""
    entries: list[tuple[str, str]] = []  # (uri, suite)
    for f in sorted((etc / "sources.list.d").glob("*.sources")):
        for st in _deb822_stanzas(f.read_text(encoding="utf-8", errors="replace")):
            if st.get("enabled", "yes").lower() == "no" or "deb" not in st.get("types", ""):
                continue
            for uri in st.get("uris", "").split():
                for suite in st.get("suites", "").split():
                    entries.append((uri, suite))
    lists = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for f in lists:
        if not f.exists():
            continue
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m:
                entries.append((m.group(1), m.group(2)))
    mirror = security = None
    for uri, suite in entries:
        if suite.endswith("-security") or "security" in uri:
            security = security or uri
        elif "-" not in suite and "debian" in uri:
            mirror = mirror or uri
    env_mirror = os.environ.get("OEMHOST_LAB_MIRROR")
    if env_mirror:
        mirror = env_mirror
    if not mirror:
        raise LabError("no Debian mirror found in /etc/apt sources "
                       "(set OEMHOST_LAB_MIRROR to a Debian mirror URL)")
    return mirror.rstrip("/"), (security.rstrip("/") if security else None)


def _sources(mirror: str, security: str | None) -> str:
    text = (f"Types: deb\nURIs: {mirror}\nSuites: {SUITE} {SUITE}-updates\n"
            "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    if security:
        text += (f"\nTypes: deb\nURIs: {security}\nSuites: {SUITE}-security\n"
                 "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    return text


def _chroot(root: Path, script: str, log) -> None:
    """Run a shell script in the chroot with /proc, /sys and /dev mounted for apt."""
    mounts = [("proc", "proc", ["-t", "proc"]), ("sys", "sys", ["-t", "sysfs"]),
              ("dev", "/dev", ["--bind"]), ("dev/pts", "/dev/pts", ["--bind"])]
    done: list[Path] = []
    try:
        for sub, src, opts in mounts:
            target = root / sub
            target.mkdir(parents=True, exist_ok=True)
            run(["mount", *opts, src, str(target)])
            done.append(target)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
               "LANG": "C.UTF-8", "HOME": "/root"}
        proc = subprocess.run(["chroot", str(root), "/bin/sh", "-euxc", script], env=env,
                              stdout=log, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            raise LabError(f"image build step failed (exit {proc.returncode}); see {log.name}")
    finally:
        for target in reversed(done):
            subprocess.run(["umount", "-l", str(target)], check=False)


def build_image(progress: Callable[[str], None] = lambda _m: None) -> Path:
    """Return the cached image's rootfs, building it first if needed (locked, atomic)."""
    ready = image_rootfs()
    if ready:
        return ready
    (CACHE_DIR / "images").mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / "images" / ".lock", "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        ready = image_rootfs()  # another process may have built it meanwhile
        if ready:
            return ready
        mirror, security = host_mirrors()
        final = image_dir()
        work = final.with_name(final.name + ".build")
        if work.exists():
            _remove_tree(work)
        work.mkdir(parents=True)
        root = work / "rootfs"
        logpath = work / "build.log"
        t0 = time.monotonic()
        with open(logpath, "w") as log:
            progress(f"building the lab image {final.name} from {mirror} (once; ~2 min)")
            proc = subprocess.run(
                ["debootstrap", "--variant=minbase", f"--include={DEBOOTSTRAP_INCLUDE}",
                 SUITE, str(root), mirror], stdout=log, stderr=subprocess.STDOUT, check=False)
            if proc.returncode != 0:
                raise LabError(f"debootstrap failed (exit {proc.returncode}); see {logpath}")
            (root / "etc/apt/sources.list").write_text("")
            (root / "etc/apt/sources.list.d/debian.sources").write_text(
                _sources(mirror, security))
            pkgs = " ".join(packages())
            units = " ".join(DISABLED_UNITS)
            _chroot(root, f"""
                printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d
                chmod 0755 /usr/sbin/policy-rc.d
                apt-get update -q
                apt-get -y -q dist-upgrade
                apt-get install -y -q --no-install-recommends {pkgs}
                for u in {units}; do systemctl disable "$u" >/dev/null 2>&1 || true; done
                sed -i 's/^# *\\(ja_JP.UTF-8\\)/\\1/; s/^# *\\(en_US.UTF-8\\)/\\1/' /etc/locale.gen
                locale-gen >/dev/null
                apt-get clean
                rm -f /usr/sbin/policy-rc.d /etc/ssh/ssh_host_*
                rm -rf /var/lib/apt/lists/*
                : > /etc/machine-id
                passwd -l root >/dev/null
            """, log)
            progress(f"image built in {time.monotonic() - t0:.0f} s")
        (work / "ready").write_text(f"{mirror}\n")
        if final.exists():
            _remove_tree(final)
        work.rename(final)
        _prune_images(keep=final)
        return final / "rootfs"


def _prune_images(keep: Path, count: int = 3) -> None:
    """Keep the newest few images (other checkouts may use an older list), drop the rest
    unless a node still runs on them."""
    images = sorted((p for p in (CACHE_DIR / "images").iterdir()
                     if p.is_dir() and not p.name.endswith(".build") and p != keep),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    mounts = Path("/proc/self/mountinfo").read_text()
    for old in images[count - 1:]:
        if str(old) not in mounts:
            _remove_tree(old)


def _remove_tree(path: Path) -> None:
    # never follow mounts left in a half-built chroot
    for sub in ("dev/pts", "dev", "sys", "proc"):
        subprocess.run(["umount", "-l", str(path / "rootfs" / sub)],
                       stderr=subprocess.DEVNULL, check=False)
    shutil.rmtree(path, ignore_errors=True)
