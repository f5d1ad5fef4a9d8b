"""The probes: pure asyncio functions, one per protocol, and a bounded concurrent runner.

No database, no inventory: a probe takes a :class:`~oemhost.monitor.checks.Check` and
answers a :class:`~oemhost.monitor.checks.CheckResult`. :func:`run_checks` runs any number
of checks in one event loop with at most ``concurrency`` in flight and each bounded by its
own ``timeout``; nothing forks (MariaDB's sync driver runs in a bounded thread pool).

>>> results = asyncio.run(run_checks(checks, concurrency=500))
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from oemhost.monitor.checks import Check, CheckResult, Failure, Status
from oemhost.monitor.probes.base import Outcome, ProbeError
from oemhost.monitor.probes.ftp import probe_ftp
from oemhost.monitor.probes.http import probe_http
from oemhost.monitor.probes.icmp import PingerScope, probe_ping
from oemhost.monitor.probes.mail import probe_imap, probe_pop3, probe_smtp
from oemhost.monitor.probes.sql import probe_mysql, probe_postgresql

log = logging.getLogger(__name__)

ProbeFn = Callable[[Check], Awaitable[Outcome]]

PROBES: dict[str, ProbeFn] = {
    "ping": probe_ping,
    "http": probe_http, "https": probe_http,
    "ftp": probe_ftp, "ftps": probe_ftp,
    "smtp": probe_smtp, "smtps": probe_smtp,
    "pop3": probe_pop3, "pop3s": probe_pop3,
    "imap": probe_imap, "imaps": probe_imap,
    "postgresql": probe_postgresql,
    "mysql": probe_mysql,
}

__all__ = ["PROBES", "Outcome", "ProbeError", "run_check", "run_checks"]


async def run_check(check: Check) -> CheckResult:
    """Run one check within its timeout; every failure becomes a result, never an exception."""
    fn = PROBES.get(check.protocol)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    if fn is None:
        return CheckResult(check.node, check.protocol, Status.UNKNOWN,
                           f"no probe for protocol {check.protocol!r}", started,
                           failure=Failure.CONFIG)
    try:
        async with asyncio.timeout(check.timeout):
            out = await fn(check)
    except ProbeError as exc:
        out = Outcome(exc.status, str(exc), exc.failure)
    except TimeoutError:
        out = Outcome(Status.CRITICAL, f"no answer within {check.timeout:g} s", Failure.TIMEOUT)
    except (ConnectionError, OSError) as exc:
        out = Outcome(Status.CRITICAL, f"connection error: {exc.__class__.__name__}",
                      Failure.CONNECT)
    except Exception as exc:  # noqa: BLE001 - one broken probe must not end the sweep
        log.exception("probe %s/%s crashed", check.node, check.protocol)
        out = Outcome(Status.UNKNOWN, f"probe error: {exc.__class__.__name__}: {exc}",
                      Failure.CONFIG)
    elapsed = time.perf_counter() - t0
    latency = out.latency if out.latency is not None else elapsed
    if out.failure in (Failure.CONNECT, Failure.TIMEOUT, Failure.CONFIG) and out.latency is None:
        latency = None
    status, message, failure = out.status, out.message, out.failure
    warn_latency = check.params.get("warn_latency")
    if status is Status.OK and warn_latency and latency and latency >= float(warn_latency):
        status, failure = Status.WARNING, Failure.SLOW
        message = f"slow ({latency:.2f} s): {message}"
    return CheckResult(check.node, check.protocol, status, message, started,
                       latency=latency, failure=failure, cert_days_left=out.cert_days_left)


def raise_nofile_limit(wanted: int) -> int:
    """Raise the soft open-files limit toward ``wanted`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard if hard != resource.RLIM_INFINITY else wanted)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


async def run_checks(checks: Iterable[Check], *, concurrency: int = 500,
                     on_result: Callable[[CheckResult], None] | None = None
                     ) -> list[CheckResult]:
    """Run ``checks`` concurrently (at most ``concurrency`` at once); results in input order."""
    checks = list(checks)
    limit = raise_nofile_limit(concurrency * 2 + 256)
    concurrency = max(1, min(concurrency, (limit - 128) // 2))
    sem = asyncio.Semaphore(concurrency)

    async def one(check: Check) -> CheckResult:
        async with sem:
            result = await run_check(check)
        if on_result is not None:
            on_result(result)
        return result

    async with PingerScope():
        return list(await asyncio.gather(*(one(c) for c in checks)))
