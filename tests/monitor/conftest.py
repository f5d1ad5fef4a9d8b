"""Fixtures of the monitor tests: real local servers, a real SMTP server, a real database.

- ``endpoints``: simulated protocol servers (oemhost.monitor.simulate) on loopback
  addresses, in an event loop of their own thread, that a test starts and stops;
- ``smtpd``: aiosmtpd with STARTTLS and AUTH (and an SMTPS twin), collecting messages;
- ``pg`` / ``mariadb``: throw-away PostgreSQL and MariaDB servers (Debian packages);
- ``env``: settings with a fresh inventory directory and SQLite database.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from oemhost.config import load_settings
from oemhost.monitor import simulate as sim
from oemhost.monitor.dbservers import MariaDBServer, PostgresServer


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    d = tmp_path_factory.mktemp("pki")
    return {
        "good": sim.make_certificate(d / "good", "good.oemhost.test", days=90),
        "soon": sim.make_certificate(d / "soon", "soon.oemhost.test", days=5),
        "expired": sim.make_certificate(d / "expired", "expired.oemhost.test", days=-3),
    }


class Endpoints:
    """Simulated servers in a background event loop; ``start``/``stop`` from the test."""

    def __init__(self, pki):
        self.pki = pki
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: dict[tuple[str, int], asyncio.Server] = {}
        # a /24 of loopback addresses of our own for this session
        self.net = f"127.77.{random.randint(1, 250)}"  # noqa: S311
        self._next = 1

    def address(self) -> str:
        self._next += 1
        return f"{self.net}.{self._next}"

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def context(self, cert: str = "good") -> ssl.SSLContext:
        return sim.server_context(*self.pki[cert])

    def start(self, kind: str, host: str, port: int, behaviour: sim.Behaviour = sim.OK,
              cert: str = "good") -> None:
        ctx = self.context(cert)
        server = self._run(sim.start_listener(kind, host, port, ctx, behaviour))
        self.servers[(host, port)] = server

    def start_pg(self, host: str, port: int, user: str, password: str,
                 iterations: int = 4096) -> None:
        scram = sim.PgScram(user, password, iterations)
        self.servers[(host, port)] = self._run(sim.start_pg_listener(host, port, scram))

    def stop(self, host: str, port: int) -> None:
        server = self.servers.pop((host, port), None)
        if server is not None:
            async def close():
                server.close()
                await server.wait_closed()
            self._run(close())

    def close(self) -> None:
        for key in list(self.servers):
            self.stop(*key)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="session")
def endpoints(pki) -> Iterator[Endpoints]:
    e = Endpoints(pki)
    yield e
    e.close()


# -- SMTP ----------------------------------------------------------------------------------
@dataclass
class Mailbox:
    messages: list = field(default_factory=list)
    logins: list = field(default_factory=list)

    def clear(self) -> None:
        self.messages.clear()
        self.logins.clear()


class _Handler:
    def __init__(self, box: Mailbox):
        self.box = box

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        from email import message_from_bytes, policy

        msg = message_from_bytes(envelope.original_content or envelope.content,
                                 policy=policy.default)
        self.box.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                  "msg": msg,
                                  "tls": server.transport.get_extra_info("ssl_object")
                                  is not None})
        return "250 OK"


@dataclass
class Smtpd:
    host: str
    port: int          # STARTTLS + AUTH required
    smtps_port: int    # implicit TLS + AUTH
    plain_port: int    # no TLS, no AUTH
    user: str
    password: str
    ca_file: Path
    box: Mailbox


@pytest.fixture(scope="session")
def smtpd(pki) -> Iterator[Smtpd]:
    with smtp_servers(pki) as servers:
        yield servers


@contextmanager
def smtp_servers(pki) -> Iterator[Smtpd]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = Mailbox()
    user, password = "monitor", "s3cret-relay-pw"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() \
            and auth_data.password == password.encode()
        box.logins.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)

    cert, key = pki["good"]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    host = "127.0.0.1"
    ports = [free_port(host) for _ in range(3)]
    controllers = [
        Controller(_Handler(box), hostname=host, port=ports[0], tls_context=ctx,
                   require_starttls=True, authenticator=authenticator, auth_require_tls=True,
                   server_hostname="good.oemhost.test"),
        Controller(_Handler(box), hostname=host, port=ports[1], ssl_context=ctx,
                   authenticator=authenticator, auth_require_tls=False,
                   server_hostname="good.oemhost.test"),
        Controller(_Handler(box), hostname=host, port=ports[2],
                   server_hostname="plain.oemhost.test"),
    ]
    for c in controllers:
        c.start()
    try:
        yield Smtpd(host, ports[0], ports[1], ports[2], user, password, cert, box)
    finally:
        for c in controllers:
            c.stop()


# -- databases ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresServer]:
    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        pytest.skip("PostgreSQL server not installed (make host-deps)")
    server = PostgresServer(port=free_port())
    with server:
        yield server


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    import shutil

    if not shutil.which("mariadbd"):
        pytest.skip("MariaDB server not installed (make host-deps)")
    server = MariaDBServer(port=free_port())
    with server:
        yield server


# -- an installation ---------------------------------------------------------------------------
class Env:
    def __init__(self, root: Path, smtpd: Smtpd | None):
        self.root = root
        self.inventory = root / "inventory"
        self.state = root / "state"
        for d in ("nodes", "resellers", "tenants"):
            (self.inventory / "state" / d).mkdir(parents=True, exist_ok=True)
        (self.inventory / "secrets").mkdir(mode=0o700, exist_ok=True)
        self.monitor: dict = {}
        self.smtp: dict = {}
        self.top: dict = {}          # other top-level settings (project_dir...)
        if smtpd is not None:
            (self.inventory / "secrets" / "smtp_password").write_text(smtpd.password)
            self.smtp = {"host": smtpd.host, "port": smtpd.port, "security": "starttls",
                         "username": smtpd.user, "password_file": "smtp_password",
                         "from_addr": "monitor@provider.example", "from_name": "Provider NOC",
                         "ca_file": str(smtpd.ca_file), "verify": False}

    def node(self, name: str, address: str, services=("web",), owner="shared",
             infra=None, connection=None) -> None:
        rec = {"name": name, "address": address, "services": list(services), "owner": owner}
        if infra:
            rec["infra"] = infra
        if connection:
            rec["connection"] = connection
        (self.inventory / "state" / "nodes" / f"{name}.yml").write_text(yaml.safe_dump(rec))

    def reseller(self, rid: str, contacts, locale="ja", company=None) -> None:
        rec = {"id": rid, "company": company or f"{rid.upper()} K.K.", "status": "active",
               "contacts": list(contacts), "locale": locale}
        (self.inventory / "state" / "resellers" / f"{rid}.yml").write_text(
            yaml.safe_dump(rec, allow_unicode=True))

    def tenant(self, tid: str, reseller: str, node: str, status: str = "active") -> None:
        rec = {"id": tid, "reseller": reseller, "plan": "basic", "node": node,
               "status": status}
        (self.inventory / "state" / "tenants" / f"{tid}.yml").write_text(yaml.safe_dump(rec))

    def settings(self):
        import tomllib  # noqa: F401 - the same parser load_settings uses

        cfg = self.root / "oemhost.toml"
        cfg.write_text(_toml({"inventory": str(self.inventory), "state_dir": str(self.state),
                              **self.top, "monitor": self.monitor, "smtp": self.smtp}))
        return load_settings({"OEMHOST_CONFIG": str(cfg)})


def _toml(data: dict, prefix: str = "") -> str:
    """A tiny TOML writer for test settings (strings, numbers, bools, lists, tables)."""
    import json

    scalars, tables = [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            scalars.append(f"{k} = {json.dumps(v, ensure_ascii=False)}")
    out = "\n".join(scalars) + "\n"
    for k, v in tables:
        name = f"{prefix}{k}"
        out += f"\n[{name}]\n" + _toml(v, name + ".")
    return out


@pytest.fixture
def env(tmp_path, smtpd) -> Env:
    smtpd.box.clear()
    return Env(tmp_path, smtpd)


# -- an isolated network for the engine scenarios -------------------------------------------
NS_NET = "10.200"


@pytest.fixture
def netns():
    """Run the test in a fresh network namespace (this thread and the threads it starts):
    loopback up, ``10.200.0.0/16`` unreachable; a node "exists" when its address is added
    to lo. Restores the original namespace afterwards; the new one vanishes with it."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    os.unshare(os.CLONE_NEWNET)
    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "route", "add", "unreachable", f"{NS_NET}.0.0/16"], check=True)
        yield NetNs()
    finally:
        os.setns(orig, os.CLONE_NEWNET)
        os.close(orig)


class NetNs:
    def add(self, address: str) -> None:
        import subprocess
        subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)

    def remove(self, address: str) -> None:
        import subprocess
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], check=True)


class Clock:
    def __init__(self):
        from datetime import UTC, datetime
        self.now = datetime.now(UTC)

    def __call__(self):
        return self.now

    def advance(self, **kw) -> None:
        from datetime import timedelta
        self.now += timedelta(**kw)


class FakeJobs:
    """Stands in for the job engine's API (oemhost.jobs.submit / get) until it lands: records
    each submission and runs ``on_submit`` (what the playbook would do) at once."""

    def __init__(self):
        self.submitted: list[dict] = []
        self.states: dict[str, str] = {}
        self.on_submit = None
        self.result = "succeeded"

    def submit(self, session, *, kind, playbook, nodes, extravars, requested_by, reason):
        from oemhost.monitor.jobs import JobState

        job_id = str(len(self.submitted) + 1)
        self.submitted.append({"id": job_id, "kind": kind, "playbook": playbook,
                               "nodes": list(nodes), "extravars": dict(extravars),
                               "requested_by": requested_by, "reason": reason})
        self.states[job_id] = JobState.PENDING
        if self.on_submit is not None:
            self.on_submit(self.submitted[-1])
        self.states[job_id] = JobState(self.result)
        return job_id

    def state(self, session, job_id):
        from oemhost.monitor.jobs import JobState
        return self.states.get(job_id, JobState.UNKNOWN)


NODE_PORTS = {"http": 80, "https": 443, "ftp": 21, "smtp": 25, "smtps": 465, "pop3": 110,
              "pop3s": 995, "imap": 143, "imaps": 993}
SERVICE_LISTENERS = {"web": ("http", "https"), "ftp": ("ftp",),
                     "mail": ("smtp", "smtps", "pop3", "pop3s", "imap", "imaps")}


class World:
    """Nodes served by simulated daemons on their own addresses, a real SMTP server, a
    SQLite database, a fake job engine and a controllable clock, all in the test's netns."""

    def __init__(self, ns: NetNs, root: Path, pki):
        self.ns = ns
        self.endpoints = Endpoints(pki)
        self._smtpd_cm = smtp_servers(pki)
        self.smtpd = self._smtpd_cm.__enter__()
        self.env = Env(root, self.smtpd)
        self.env.monitor = {"retry_interval": 0, "max_attempts": 2, "restart_backoff": 0,
                            "ops_contacts": ["ops@provider.example"], "ops_language": "ja",
                            "timeout": 3, "reboot_grace": 120,
                            "protocols": {"ping": {"packets": 1, "wait": 1}}}
        self.clock = Clock()
        self.jobs = FakeJobs()
        self.addresses: set[str] = set()

    def node(self, name: str, address: str, services=("web",), **kw) -> None:
        self.env.node(name, address, services=services, **kw)

    def up(self, address: str, services=("web",)) -> None:
        if address not in self.addresses:
            self.ns.add(address)
            self.addresses.add(address)
        for service in services:
            for kind in SERVICE_LISTENERS.get(service, ()):
                if (address, NODE_PORTS[kind]) not in self.endpoints.servers:
                    self.endpoints.start(kind, address, NODE_PORTS[kind])

    def stop(self, address: str, *kinds: str) -> None:
        for kind in kinds:
            self.endpoints.stop(address, NODE_PORTS[kind])

    def start(self, address: str, *kinds: str, behaviour=None) -> None:
        for kind in kinds:
            if behaviour is None:
                self.endpoints.start(kind, address, NODE_PORTS[kind])
            else:
                self.endpoints.start(kind, address, NODE_PORTS[kind], behaviour)

    def down(self, address: str) -> None:
        for (addr, port) in list(self.endpoints.servers):
            if addr == address:
                self.endpoints.stop(addr, port)
        if address in self.addresses:
            self.ns.remove(address)
            self.addresses.discard(address)

    def monitor(self, **cfg):
        from oemhost.monitor.engine import Monitor
        from oemhost.monitor.probes.pool import run_in_loop

        self.env.monitor.update(cfg)
        settings = self.env.settings()
        return Monitor(settings, clock=self.clock, sleep=lambda s: None, jobs=self.jobs,
                       prober=lambda checks: run_in_loop(checks, 100))

    def close(self) -> None:
        from oemhost.monitor import db

        db.dispose()
        self.endpoints.close()
        self._smtpd_cm.__exit__(None, None, None)


@pytest.fixture
def world(netns, tmp_path, pki):
    w = World(netns, tmp_path, pki)
    try:
        yield w
    finally:
        w.close()
