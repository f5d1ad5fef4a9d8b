"""SSH login check for level 2: can the controller still log in to the node?

Runs the OpenSSH client (one process per check; used only to confirm a node that does not
answer ping, never in the sweep). Outcomes:

- OK: logged in and ran ``true``;
- WARNING/AUTH: sshd answered but refused the key (the node is alive: no reboot);
- CRITICAL/CONNECT or TIMEOUT: nothing answered (confirms a dead node).

Host keys are not checked (``StrictHostKeyChecking=no``, no known_hosts written): the check
sends nothing secret and only asks whether a login succeeds.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from oemhost.monitor.checks import CheckResult, Failure, Status
from oemhost.monitor.probes.base import clip


def ssh_argv(address: str, port: int, user: str, key_file: str | None,
             timeout: float) -> list[str]:
    argv = ["ssh", "-n", "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(timeout)}",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=1", "-p", str(int(port))]
    if key_file:
        argv += ["-i", key_file, "-o", "IdentitiesOnly=yes"]
    return [*argv, "-l", user, "--", address, "true"]


async def ssh_login(node: str, address: str, *, port: int = 22, user: str = "root",
                    key_file: str | None = None, timeout: float = 15.0) -> CheckResult:
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        proc = await asyncio.create_subprocess_exec(
            *ssh_argv(address, port, user, key_file, timeout),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        return CheckResult(node, "ssh", Status.UNKNOWN, f"cannot run ssh: {exc.strerror}",
                           started, failure=Failure.CONFIG)
    try:
        async with asyncio.timeout(timeout + 5):
            _out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return CheckResult(node, "ssh", Status.CRITICAL, f"no SSH login within {timeout:g} s",
                           started, failure=Failure.TIMEOUT)
    elapsed = time.perf_counter() - t0
    text = clip(err.decode("utf-8", "replace"), 200)
    if proc.returncode == 0:
        return CheckResult(node, "ssh", Status.OK, "SSH login ok", started, latency=elapsed)
    low = text.lower()
    if "permission denied" in low or "too many authentication" in low:
        return CheckResult(node, "ssh", Status.WARNING, f"sshd answers but refuses login: {text}",
                           started, latency=elapsed, failure=Failure.AUTH)
    if proc.returncode != 255:  # logged in, `true` failed: the node is alive
        return CheckResult(node, "ssh", Status.WARNING,
                           f"logged in, command failed ({proc.returncode})", started,
                           latency=elapsed, failure=Failure.PROTOCOL)
    kind = Failure.TIMEOUT if "timed out" in low else Failure.CONNECT
    return CheckResult(node, "ssh", Status.CRITICAL, f"SSH login failed: {text or 'rc 255'}",
                       started, failure=kind)
