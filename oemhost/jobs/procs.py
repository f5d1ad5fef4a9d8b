"""Processes on this host: identity (pid + start time + boot), liveness, termination.

A pid alone is not an identity (pids are reused); the kernel's start time of the process
(``/proc/<pid>/stat`` field 22) and the boot id make it one.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path


def hostname() -> str:
    return socket.gethostname()


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def proc_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot, or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after it
    rest = stat[stat.rfind(")") + 2:].split()
    return rest[19] if len(rest) > 19 else None


def is_running(pid: int | None, start: str | None) -> bool:
    """Whether the process ``pid`` that started at ``start`` still exists (zombies don't)."""
    if not pid or pid <= 0:
        return False
    now = proc_start(pid)
    if now is None or (start and now != start):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
        return state[state.rfind(")") + 2:].split()[0] != "Z"
    except OSError:
        return False


def terminate(pid: int | None, start: str | None, grace: float = 10.0) -> bool:
    """SIGTERM the process (ansible-playbook passes it on to its forks), SIGKILL after
    ``grace`` seconds; return True once it is gone."""
    if not is_running(pid, start):
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_running(pid, start):
            return True
        time.sleep(0.1)
    try:
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    time.sleep(0.2)
    return not is_running(pid, start)
