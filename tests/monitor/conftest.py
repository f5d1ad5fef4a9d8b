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
                                  "msg": msg, "tls": session.ssl is not None})
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
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = Mailbox()
    user, password = "monitor", "s3cret-relay-pw"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() \
            and auth_data.password == password.encode()
        box.logins.append((mechanism, ok))
        return AuthResult(success=ok)

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
    server = PostgresServer(port=free_port())
    with server:
        yield server


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
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
                              "monitor": self.monitor, "smtp": self.smtp}))
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
