"""Small wrappers around the host tools the lab drives (ip, mount, systemd-nspawn...)."""

from __future__ import annotations

import os
import shutil
import subprocess

from oemhost.errors import OemhostError

REQUIRED_TOOLS = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "mkfs.btrfs": "btrfs-progs",
    "ip": "iproute2",
    "ssh-keygen": "openssh-client",
    "losetup": "mount",
}


class LabError(OemhostError):
    """The lab could not do what was asked; the message says why in one line."""


def run(cmd: list[str], *, check: bool = True, input: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, input=input, check=False,
                          env=env)
    if check and proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"{' '.join(cmd[:3])}: {err[-1] if err else f'exit {proc.returncode}'}")
    return proc


def preflight(*, need_debootstrap: bool = True) -> None:
    """One clear error when the lab cannot run here: not root, or a tool is missing."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, mounts, systemd-nspawn)")
    missing = sorted({pkg for tool, pkg in REQUIRED_TOOLS.items()
                      if (need_debootstrap or tool != "debootstrap") and not shutil.which(tool)})
    if missing:
        raise LabError(f"missing host packages: {' '.join(missing)} "
                       f"(apt-get install {' '.join(missing)})")
