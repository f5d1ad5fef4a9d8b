"""Simulated endpoints: small asyncio servers speaking each monitored protocol.

For the probe benchmark (``bench/bench_probes.py``: 1,000 endpoints, each on its own
loopback address 127.x.y.z) and for the probes' unit tests. Each server speaks just enough
of its protocol for a client to see a real exchange: greeting, EHLO with STARTTLS, AUTH TLS
with a real TLS upgrade, IMAP LOGOUT, an HTTP status line; ``https``, ``smtps``, ``pop3s``
and ``imaps`` are TLS from the first byte. A :class:`Behaviour` makes a server misbehave
(hang, close at once, send garbage, answer HTTP 503) so tests can see each failure kind.

PostgreSQL and MariaDB are not simulated here: the benchmark and the tests start real
servers (:mod:`oemhost.monitor.dbservers`).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import signal
import ssl
import struct
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Listener kinds: one per port a hosting node opens. ``ftp`` serves ftp and ftps
#: (AUTH TLS), ``smtp`` serves smtp with STARTTLS.
LISTENERS = ("http", "https", "ftp", "smtp", "smtps", "pop3", "pop3s", "imap", "imaps")
#: Which listener a probe protocol talks to.
LISTENER_OF = {"http": "http", "https": "https", "ftp": "ftp", "ftps": "ftp",
               "smtp": "smtp", "smtps": "smtps", "pop3": "pop3", "pop3s": "pop3s",
               "imap": "imap", "imaps": "imaps"}
IMPLICIT_TLS = frozenset({"https", "smtps", "pop3s", "imaps"})


@dataclass(frozen=True)
class Behaviour:
    """How a simulated server behaves: ``ok``, ``hang`` (accept, say nothing), ``close``
    (accept and close at once), ``garbage`` (a wrong greeting); ``http_status`` for HTTP;
    ``starttls`` False to not offer STARTTLS / refuse AUTH TLS."""

    mode: str = "ok"
    http_status: int = 200
    starttls: bool = True


OK = Behaviour()


def make_certificate(directory: Path, name: str = "sim.oemhost.test", days: float = 90,
                     not_before_days: float = 1) -> tuple[Path, Path]:
    """A self-signed ECDSA P-256 certificate valid ``days`` from now (negative: expired)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=max(not_before_days, 1 - days)))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


class _Line(asyncio.Protocol):
    """A line-oriented server: greeting, then one reply per command line."""

    greeting = b""

    def __init__(self, behaviour: Behaviour, tls: ssl.SSLContext | None, secure: bool):
        self.behaviour = behaviour
        self.tls = tls
        self.secure = secure
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.upgrading = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        if self.behaviour.mode == "hang":
            return
        if self.behaviour.mode == "close":
            transport.close()
            return
        if self.behaviour.mode == "garbage":
            transport.write(b"SSH-2.0-not-what-you-expected\r\n")
            return
        if self.greeting:
            transport.write(self.greeting)

    def data_received(self, data: bytes) -> None:
        if self.behaviour.mode != "ok":
            return
        self.buf += data
        self._process()

    def _process(self) -> None:
        while b"\n" in self.buf and not self.upgrading and self.transport is not None:
            line, self.buf = self.buf.split(b"\n", 1)
            self.command(line.rstrip(b"\r"))
        if len(self.buf) > 8192 and self.transport is not None:
            self.transport.close()

    def command(self, line: bytes) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def upgrade(self) -> None:
        self.upgrading = True
        self.buf = b""  # anything pipelined before the handshake is discarded (RFC 3207)
        asyncio.ensure_future(self._upgrade())

    async def _upgrade(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.transport = await loop.start_tls(self.transport, self, self.tls,
                                                  server_side=True)
        except (OSError, ssl.SSLError, ConnectionError):
            if self.transport is not None:
                self.transport.abort()
            return
        self.secure = True
        self.upgrading = False
        self._process()

    def connection_lost(self, exc) -> None:
        self.transport = None


class _Http(_Line):
    def data_received(self, data: bytes) -> None:
        if self.behaviour.mode != "ok":
            return
        self.buf += data
        if b"\r\n\r\n" in self.buf or len(self.buf) > 8192:
            code = self.behaviour.http_status
            body = b"ok\n"
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nServer: oemhost-sim\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n%s"
                % (code, b"OK" if code < 400 else b"Error", len(body), body))
            self.transport.close()


class _Ftp(_Line):
    greeting = b"220 oemhost-sim FTP server ready\r\n"

    def command(self, line: bytes) -> None:
        verb = line.split(b" ", 1)[0].upper()
        if verb == b"AUTH" and line[5:].strip().upper() in (b"TLS", b"SSL"):
            if self.tls is None or not self.behaviour.starttls or self.secure:
                self.transport.write(b"534 TLS not available\r\n")
                return
            self.transport.write(b"234 AUTH TLS successful\r\n")
            self.upgrade()
        elif verb == b"QUIT":
            self.transport.write(b"221 Goodbye.\r\n")
            self.transport.close()
        else:
            self.transport.write(b"530 Login first\r\n")


class _Smtp(_Line):
    greeting = b"220 sim.oemhost.test ESMTP oemhost-sim\r\n"

    def command(self, line: bytes) -> None:
        verb = line.split(b" ", 1)[0].upper()
        if verb in (b"EHLO", b"HELO"):
            tls = b"250-STARTTLS\r\n" if (self.tls and not self.secure
                                           and self.behaviour.starttls) else b""
            self.transport.write(b"250-sim.oemhost.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                                 + tls + b"250 8BITMIME\r\n")
        elif verb == b"STARTTLS" and self.tls and not self.secure and self.behaviour.starttls:
            self.transport.write(b"220 2.0.0 Ready to start TLS\r\n")
            self.upgrade()
        elif verb == b"QUIT":
            self.transport.write(b"221 2.0.0 Bye\r\n")
            self.transport.close()
        else:
            self.transport.write(b"502 5.5.2 Error: command not recognized\r\n")


class _Pop3(_Line):
    greeting = b"+OK oemhost-sim POP3 ready.\r\n"

    def command(self, line: bytes) -> None:
        if line.upper().startswith(b"QUIT"):
            self.transport.write(b"+OK Logging out.\r\n")
            self.transport.close()
        else:
            self.transport.write(b"-ERR Unknown command.\r\n")


class _Imap(_Line):
    greeting = b"* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] oemhost-sim ready.\r\n"

    def command(self, line: bytes) -> None:
        tag, _, rest = line.partition(b" ")
        if rest.upper().startswith(b"LOGOUT"):
            self.transport.write(b"* BYE Logging out\r\n" + tag + b" OK Logout completed.\r\n")
            self.transport.close()
        else:
            self.transport.write(tag + b" BAD Error in IMAP command\r\n")


class PgScram:
    """A SCRAM-SHA-256 verifier for one login, computed once like a server stores it."""

    def __init__(self, user: str, password: str, iterations: int = 4096):
        self.user = user
        self.salt = os.urandom(16)
        self.iterations = iterations
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), self.salt, iterations)
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        self.stored_key = hashlib.sha256(client_key).digest()
        self.server_key = hmac.digest(salted, b"Server Key", "sha256")


class _Pg(asyncio.Protocol):
    """Enough of the PostgreSQL v3 wire protocol for a real libpq client to log in with
    SCRAM-SHA-256 and run a query: startup (SSL/GSS requests answered "N"), SASL
    exchange verified against the stored key, parameter status, simple and extended
    queries answered with one row (server version text, ``f``)."""

    VERSION = b"15.18 (oemhost-sim)"

    def __init__(self, scram: PgScram):
        self.scram = scram
        self.buf = b""
        self.state = "startup"
        self.transport = None
        self.first_bare = self.server_first = ""
        self.nonce = ""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def _send(self, kind: bytes, payload: bytes = b"") -> None:
        self.transport.write(kind + struct.pack("!I", len(payload) + 4) + payload)

    def _fatal(self, code: str, message: str) -> None:
        fields = b"".join(k + v.encode() + b"\0" for k, v in
                          ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message)))
        self._send(b"E", fields + b"\0")
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.transport is not None:
            if self.state == "startup":
                if len(self.buf) < 8:
                    return
                (length,) = struct.unpack_from("!I", self.buf)
                if len(self.buf) < length:
                    return
                packet, self.buf = self.buf[4:length], self.buf[length:]
                self._startup(packet)
            else:
                if len(self.buf) < 5:
                    return
                kind = self.buf[:1]
                (length,) = struct.unpack_from("!I", self.buf, 1)
                if len(self.buf) < length + 1:
                    return
                payload, self.buf = self.buf[5:length + 1], self.buf[length + 1:]
                self._message(kind, payload)

    def _startup(self, packet: bytes) -> None:
        (code,) = struct.unpack_from("!I", packet)
        if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: not offered
            self.transport.write(b"N")
            return
        if code >> 16 != 3:
            self._fatal("08P01", "unsupported frontend protocol")
            return
        parts = packet[4:].split(b"\0")
        params = dict(zip(parts[0::2], parts[1::2], strict=False))
        if code & 0xFFFF:  # a newer 3.x minor: ask for 3.0
            self._send(b"v", struct.pack("!II", 3 << 16, 0))
        if params.get(b"user", b"").decode() != self.scram.user:
            self._fatal("28P01", "password authentication failed")
            return
        self.state = "sasl-init"
        self._send(b"R", struct.pack("!I", 10) + b"SCRAM-SHA-256\0\0")

    def _message(self, kind: bytes, payload: bytes) -> None:
        if self.state == "sasl-init" and kind == b"p":
            mech, _, rest = payload.partition(b"\0")
            first = rest[4:].decode()
            if mech != b"SCRAM-SHA-256" or not first.startswith("n,"):
                self._fatal("28000", "unsupported SASL exchange")
                return
            self.first_bare = first.split(",", 2)[2]
            cnonce = dict(a.split("=", 1) for a in self.first_bare.split(","))["r"]
            self.nonce = cnonce + base64.b64encode(os.urandom(18)).decode()
            self.server_first = (f"r={self.nonce},s={base64.b64encode(self.scram.salt).decode()},"
                                 f"i={self.scram.iterations}")
            self.state = "sasl-cont"
            self._send(b"R", struct.pack("!I", 11) + self.server_first.encode())
        elif self.state == "sasl-cont" and kind == b"p":
            final = payload.decode()
            without_proof, _, proof = final.rpartition(",p=")
            auth = f"{self.first_bare},{self.server_first},{without_proof}".encode()
            signature = hmac.digest(self.scram.stored_key, auth, "sha256")
            client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature,
                                                      strict=False))
            if (f"r={self.nonce}" not in without_proof
                    or not hmac.compare_digest(hashlib.sha256(client_key).digest(),
                                               self.scram.stored_key)):
                self._fatal("28P01", "password authentication failed")
                return
            server_sig = hmac.digest(self.scram.server_key, auth, "sha256")
            self._send(b"R", struct.pack("!I", 12) + b"v=" + base64.b64encode(server_sig))
            self._send(b"R", struct.pack("!I", 0))
            for k, v in ((b"server_version", self.VERSION), (b"server_encoding", b"UTF8"),
                         (b"client_encoding", b"UTF8"), (b"DateStyle", b"ISO, MDY"),
                         (b"integer_datetimes", b"on"), (b"TimeZone", b"UTC"),
                         (b"standard_conforming_strings", b"on"),
                         (b"IntervalStyle", b"postgres"), (b"is_superuser", b"off")):
                self._send(b"S", k + b"\0" + v + b"\0")
            self._send(b"K", struct.pack("!II", os.getpid(), 12345))
            self._send(b"Z", b"I")
            self.state = "ready"
        elif self.state == "ready":
            self._query(kind)
        else:
            self._fatal("08P01", "unexpected message")

    def _row(self) -> None:
        desc = struct.pack("!H", 2)
        for name, oid, size in ((b"current_setting", 25, -1), (b"pg_is_in_recovery", 16, 1)):
            desc += name + b"\0" + struct.pack("!IhIhih", 0, 0, oid, size, -1, 0)
        self._send(b"T", desc)

    def _data(self) -> None:
        self._send(b"D", struct.pack("!HI", 2, len(self.VERSION)) + self.VERSION
                   + struct.pack("!I", 1) + b"f")
        self._send(b"C", b"SELECT 1\0")

    def _query(self, kind: bytes) -> None:
        if kind == b"Q":
            self._row()
            self._data()
            self._send(b"Z", b"I")
        elif kind == b"P":
            self._send(b"1")
        elif kind == b"B":
            self._send(b"2")
        elif kind == b"D":
            self._row()
        elif kind == b"E":
            self._data()
        elif kind == b"S":
            self._send(b"Z", b"I")
        elif kind == b"X":
            self.transport.close()

    def connection_lost(self, exc) -> None:
        self.transport = None


async def start_pg_listener(host: str, port: int, scram: PgScram,
                            backlog: int = 1024) -> asyncio.Server:
    """A simulated PostgreSQL server accepting ``scram.user`` with its password."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Pg(scram), host=host, port=port,
                                    backlog=backlog, reuse_address=True)


_PROTOCOLS = {"http": _Http, "https": _Http, "ftp": _Ftp, "smtp": _Smtp, "smtps": _Smtp,
              "pop3": _Pop3, "pop3s": _Pop3, "imap": _Imap, "imaps": _Imap}


async def start_listener(kind: str, host: str, port: int, tls: ssl.SSLContext | None,
                         behaviour: Behaviour = OK, backlog: int = 1024) -> asyncio.Server:
    """One simulated server of ``kind`` (see :data:`LISTENERS`) on host:port."""
    cls = _PROTOCOLS[kind]
    implicit = kind in IMPLICIT_TLS
    if implicit and tls is None:
        raise ValueError(f"{kind} needs a TLS context")
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: cls(behaviour, tls, implicit), host=host, port=port,
        ssl=tls if implicit else None, backlog=backlog, reuse_address=True)


@dataclass(frozen=True)
class FleetSpec:
    """Endpoints (one loopback address each) and the port of each listener kind."""

    addresses: Sequence[str]
    ports: dict[str, int]
    cert: Path
    key: Path
    behaviours: dict[str, Behaviour] = field(default_factory=dict)  # per listener kind
    pg_port: int = 0                   # 0: no simulated PostgreSQL
    pg_user: str = ""
    pg_password: str = field(default="", repr=False)
    pg_iterations: int = 4096


def endpoint_addresses(count: int, base: str = "127.42.0.1") -> list[str]:
    """``count`` distinct loopback addresses from ``base`` on (Linux routes all of 127/8)."""
    start = int(ipaddress.IPv4Address(base))
    out = []
    n = start
    while len(out) < count:
        addr = ipaddress.IPv4Address(n)
        if addr not in ipaddress.IPv4Network("127.0.0.0/8"):
            raise ValueError("ran out of loopback addresses")
        if n & 0xFF not in (0, 255):
            out.append(str(addr))
        n += 1
    return out


async def serve_fleet(spec: FleetSpec, ready=None, stop: asyncio.Event | None = None) -> None:
    from oemhost.monitor.probes import raise_nofile_limit

    raise_nofile_limit(len(spec.addresses) * len(spec.ports) * 2 + 4096)
    tls = server_context(spec.cert, spec.key)
    scram = PgScram(spec.pg_user, spec.pg_password, spec.pg_iterations) if spec.pg_port else None
    servers = []
    for addr in spec.addresses:
        for kind, port in spec.ports.items():
            servers.append(await start_listener(kind, addr, port, tls,
                                                spec.behaviours.get(kind, OK), backlog=4096))
        if scram is not None:
            servers.append(await start_pg_listener(addr, spec.pg_port, scram, backlog=4096))
    if ready is not None:
        ready.send(len(servers))
    parent = os.getppid()
    try:
        while stop is None or not stop.is_set():
            if stop is None and os.getppid() != parent:
                return  # the benchmark or test that started us is gone: so are we
            await asyncio.sleep(1)
    finally:
        for s in servers:
            s.close()


def _spec_json(spec: FleetSpec) -> str:
    d = asdict(spec)
    d.update(addresses=list(spec.addresses), cert=str(spec.cert), key=str(spec.key))
    return json.dumps(d)


def _spec_from_json(text: str) -> FleetSpec:
    d = json.loads(text)
    d.update(cert=Path(d["cert"]), key=Path(d["key"]),
             ports={k: int(v) for k, v in d["ports"].items()},
             behaviours={k: Behaviour(**v) for k, v in d["behaviours"].items()})
    return FleetSpec(**d)


class _Ready:
    def send(self, count: int) -> None:
        sys.stdout.write(f"ready {count}\n")
        sys.stdout.flush()


def main() -> int:
    """``python -m oemhost.monitor.simulate < SPEC_JSON``: serve until terminated."""
    from oemhost.monitor.probes.pool import loop_factory

    spec = _spec_from_json(sys.stdin.readline())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(serve_fleet(spec, _Ready()), loop_factory=loop_factory())
    except KeyboardInterrupt:
        pass
    return 0


class Fleet:
    """Simulated endpoints served by ``processes`` child processes (``python -m
    oemhost.monitor.simulate``); ``with Fleet(spec, 2):`` serves until the block ends."""

    def __init__(self, spec: FleetSpec, processes: int = 1):
        self.spec = spec
        self.processes = max(1, processes)
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Fleet:
        n = self.processes
        try:
            for i in range(n):
                part = replace(self.spec, addresses=list(self.spec.addresses[i::n]))
                proc = subprocess.Popen([sys.executable, "-m", "oemhost.monitor.simulate"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                self.procs.append(proc)
                proc.stdin.write(_spec_json(part) + "\n")
                proc.stdin.close()
            for proc in self.procs:
                line = proc.stdout.readline()
                if not line.startswith("ready"):
                    raise RuntimeError(f"simulated endpoints failed to start (rc={proc.poll()})")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        self.procs.clear()


if __name__ == "__main__":
    sys.exit(main())
