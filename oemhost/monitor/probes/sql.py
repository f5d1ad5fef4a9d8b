"""PostgreSQL and MariaDB: log in with the monitoring login and run a real query.

PostgreSQL uses psycopg 3's native asyncio connection; MariaDB uses PyMySQL (sync) in a
bounded thread pool (:func:`mysql_executor`), measured in ``bench/bench_probes.py``.
Both need ``Check.credentials`` (see ``[monitor.db]`` in docs/MONITOR.md); without them
the check is UNKNOWN, not CRITICAL: the service may be fine, the monitor is misconfigured.

Params: ``sslmode`` (PostgreSQL, libpq's; "prefer"), ``gssencmode`` (libpq's; "disable":
probing for Kerberos costs a millisecond per login), ``tls`` (MariaDB: "disable" or
"require"; PyMySQL's own "prefer" builds a CA context per login, ~25 ms, so it is not used).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pymysql

from oemhost.monitor.checks import Check, Failure, Status
from oemhost.monitor.probes import tls
from oemhost.monitor.probes.base import Outcome, ProbeError, clip

PG_QUERY = "SELECT current_setting('server_version'), pg_is_in_recovery()"
MYSQL_QUERY = "SELECT VERSION(), @@read_only"

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def mysql_executor(workers: int = 16) -> ThreadPoolExecutor:
    """The process-wide pool the MariaDB probes run in (bounded: ``workers`` threads)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=workers,
                                           thread_name_prefix="oemhost-probe-mysql")
        return _executor


def _need_credentials(check: Check):
    if check.credentials is None or not check.credentials.user:
        raise ProbeError(Failure.CONFIG, "no monitoring login configured", Status.UNKNOWN)
    return check.credentials


def _pg_failure(text: str) -> Failure:
    low = text.lower()
    if "authentication failed" in low or "pg_hba.conf" in low or "password" in low:
        return Failure.AUTH
    if "timeout" in low:
        return Failure.TIMEOUT
    if "ssl" in low:
        return Failure.TLS
    return Failure.CONNECT


async def probe_postgresql(check: Check) -> Outcome:
    cred = _need_credentials(check)
    try:
        conn = await psycopg.AsyncConnection.connect(
            hostaddr=check.address, host=check.params.get("host") or check.address,
            port=check.port, user=cred.user, password=cred.password,
            dbname=cred.database or "postgres", autocommit=True,
            connect_timeout=max(2, int(check.timeout)),
            sslmode=str(check.params.get("sslmode", "prefer")),
            gssencmode=str(check.params.get("gssencmode", "disable")),
            application_name="oemhost-monitor")
    except psycopg.OperationalError as exc:
        text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ProbeError(_pg_failure(str(exc)), f"PostgreSQL login failed: {clip(text)}") from None
    try:
        cur = await conn.execute(PG_QUERY)
        version, standby = await cur.fetchone()
    except psycopg.Error as exc:
        raise ProbeError(Failure.PROTOCOL, f"PostgreSQL query failed: {clip(str(exc))}") from None
    finally:
        await conn.close()
    role = "standby" if standby else "primary"
    return Outcome(Status.OK, f"PostgreSQL {version} ({role}), query ok")


def _mysql_sync(check: Check) -> Outcome:
    cred = _need_credentials(check)
    mode = str(check.params.get("tls", "disable"))
    if mode not in ("disable", "require"):
        raise ProbeError(Failure.CONFIG, f"tls must be disable or require, not {mode!r}",
                         Status.UNKNOWN)
    ssl_opts = {"ssl": tls.context_for(check)} if mode == "require" else {"ssl_disabled": True}
    try:
        conn = pymysql.connect(
            host=check.address, port=check.port, user=cred.user, password=cred.password,
            database=cred.database or None, connect_timeout=check.timeout,
            read_timeout=check.timeout, write_timeout=check.timeout,
            program_name="oemhost-monitor", **ssl_opts)
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else 0
        msg = exc.args[1] if len(exc.args) > 1 else str(exc)
        if code in (1044, 1045, 1698):
            raise ProbeError(Failure.AUTH, f"MariaDB login refused: {clip(msg)}") from None
        if isinstance(getattr(exc, "__cause__", None), socket.timeout) or "timed out" in msg:
            raise ProbeError(Failure.TIMEOUT, f"MariaDB: {clip(msg)}") from None
        raise ProbeError(Failure.CONNECT, f"MariaDB login failed: {clip(msg)}") from None
    except pymysql.err.MySQLError as exc:
        raise ProbeError(Failure.PROTOCOL, f"MariaDB handshake failed: {clip(str(exc))}") from None
    try:
        with conn.cursor() as cur:
            cur.execute(MYSQL_QUERY)
            version, read_only = cur.fetchone()
    except pymysql.err.MySQLError as exc:
        raise ProbeError(Failure.PROTOCOL, f"MariaDB query failed: {clip(str(exc))}") from None
    finally:
        conn.close()
    mode = "read-only" if read_only else "read-write"
    return Outcome(Status.OK, f"MariaDB {version} ({mode}), query ok")


async def probe_mysql(check: Check) -> Outcome:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(mysql_executor(), _mysql_sync, check)
