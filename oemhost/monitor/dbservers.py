"""Throw-away PostgreSQL and MariaDB servers for the probe benchmark and tests.

Real servers from Debian's packages (``postgresql``, ``mariadb-server``), each in its own
temporary directory, on a loopback address and port of the caller's choosing, run as an
unprivileged user (the packages' ``postgres`` / ``mysql`` system users when started as
root, else the current user). Each gets a monitoring login with a random password, like
the one the roles create on hosting nodes. ``stop()`` kills the server and removes its
directory.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from oemhost.errors import OemhostError
from oemhost.monitor.checks import Credentials

MONITOR_USER = "oemhost_monitor"


def _pg_bindir() -> Path:
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.glob("*/bin/postgres")), reverse=True) if base.is_dir() \
        else []
    if not versions:
        raise OemhostError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return versions[0].parent


def _account(preferred: str) -> pwd.struct_passwd:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(preferred)
    except KeyError:
        raise OemhostError(f"system user {preferred!r} missing (install the server package)") \
            from None


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise OemhostError(f"{what} exited with {proc.returncode}: {tail}")
        if predicate():
            return
        time.sleep(0.1)
    raise OemhostError(f"{what} did not start within {timeout:g} s")


@dataclass
class _Server:
    host: str = "127.0.0.1"
    port: int = 0
    max_connections: int = 400
    base: Path | None = None
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    proc: subprocess.Popen | None = None
    _own_base: bool = False

    @property
    def credentials(self) -> Credentials:
        return Credentials(MONITOR_USER, self.password, self.database)

    database = ""

    def _prepare(self, account: pwd.struct_passwd, prefix: str) -> Path:
        if self.base is None:
            self.base = Path(tempfile.mkdtemp(prefix=prefix))
            self._own_base = True
        self.base.mkdir(parents=True, exist_ok=True)
        os.chown(self.base, account.pw_uid, account.pw_gid)
        self.base.chmod(0o700)
        return self.base

    def _run_as(self, account: pwd.struct_passwd) -> dict:
        if os.geteuid() != 0:
            return {}
        return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._own_base and self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass
class PostgresServer(_Server):
    """``initdb`` + ``postgres`` with SCRAM logins over TCP and trust on its own socket."""

    port: int = 55432
    database = "postgres"

    def start(self) -> None:
        import psycopg
        from psycopg import sql

        account = _account("postgres")
        base = self._prepare(account, "oemhost-pg-")
        data, log = base / "data", base / "server.log"
        bindir = _pg_bindir()
        pwfile = base / "pw"
        pwfile.write_text(secrets.token_urlsafe(18))
        os.chown(pwfile, account.pw_uid, account.pw_gid)
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth-local=trust", "--auth-host=scram-sha-256",
                        f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True, cwd=base, **self._run_as(account))
        with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"listen_addresses = '{self.host}'\nport = {self.port}\n"
                       f"unix_socket_directories = '{base}'\n"
                       f"max_connections = {self.max_connections}\nfsync = off\n"
                       "shared_buffers = 32MB\nssl = off\nlogging_collector = off\n")
        logfh = open(log, "ab")  # noqa: SIM115 - handed to the server process
        os.chown(log, account.pw_uid, account.pw_gid)
        self.proc = subprocess.Popen([str(bindir / "postgres"), "-D", str(data)],
                                     stdout=logfh, stderr=subprocess.STDOUT, cwd=base,
                                     **self._run_as(account))
        logfh.close()
        sock = base / f".s.PGSQL.{self.port}"
        _wait(sock.exists, 60, "postgres", self.proc, log)

        def ready() -> bool:
            try:
                with psycopg.connect(host=str(base), port=self.port, user="postgres",
                                     dbname="postgres", connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                return False

        _wait(ready, 60, "postgres", self.proc, log)
        with psycopg.connect(host=str(base), port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            user = sql.Identifier(MONITOR_USER)
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                user, sql.Literal(self.password)))
            conn.execute(sql.SQL("GRANT pg_monitor TO {}").format(user))


@dataclass
class MariaDBServer(_Server):
    """``mariadb-install-db`` + ``mariadbd`` with a monitoring user allowed from 127.0.0.0/8."""

    port: int = 53306

    def start(self) -> None:
        import pymysql

        account = _account("mysql")
        base = self._prepare(account, "oemhost-mariadb-")
        data, log, sock = base / "data", base / "server.log", base / "mysqld.sock"
        common = ["--no-defaults", f"--datadir={data}", f"--user={account.pw_name}"]
        subprocess.run(["mariadb-install-db", *common, "--auth-root-authentication-method=normal",
                        "--skip-test-db"], check=True, capture_output=True, cwd=base)
        self.proc = subprocess.Popen(
            ["mariadbd", *common, f"--socket={sock}", f"--port={self.port}",
             f"--bind-address={self.host}", f"--pid-file={base / 'mysqld.pid'}",
             f"--log-error={log}", "--skip-name-resolve", "--skip-log-bin",
             f"--max-connections={self.max_connections}", "--thread-cache-size=64",
             "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M",
             "--performance-schema=OFF"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=base)

        def ready() -> bool:
            # a plain socket first: PyMySQL leaks its socket when a connect fails
            if not sock.exists():
                return False
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(sock))
                except OSError:
                    return False
            return True

        _wait(ready, 60, "mariadbd", self.proc, log)
        conn = pymysql.connect(unix_socket=str(sock), user="root", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE USER '{MONITOR_USER}'@'127.%%' IDENTIFIED BY %s",
                            (self.password,))
        finally:
            conn.close()
