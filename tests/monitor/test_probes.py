"""The probes against real sockets: simulated protocol servers, aiosmtpd, real PostgreSQL
and MariaDB, ICMP to loopback (raw socket as root, datagram socket without capabilities)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from oemhost.monitor import simulate as sim
from oemhost.monitor.checks import Check, Credentials, Failure, Status
from oemhost.monitor.probes import run_check, run_checks
from oemhost.monitor.probes.pool import ProbePool, probe_all

PORTS = {"http": 8080, "https": 8443, "ftp": 2121, "smtp": 2525, "smtps": 4465,
         "pop3": 1110, "pop3s": 1995, "imap": 1143, "imaps": 1993}


def run(check: Check):
    return asyncio.run(run_check(check))


def port_of(proto: str) -> int:
    return PORTS[sim.LISTENER_OF[proto]]


@pytest.fixture(scope="module")
def node_ok(endpoints):
    """One address serving every listener kind with a good certificate."""
    addr = endpoints.address()
    for kind, port in PORTS.items():
        endpoints.start(kind, addr, port)
    yield addr
    for port in PORTS.values():
        endpoints.stop(addr, port)


@pytest.mark.parametrize("proto", list(sim.LISTENER_OF))
def test_each_protocol_answers_ok(node_ok, proto):
    r = run(Check("n1", proto, node_ok, port_of(proto), timeout=5))
    assert r.status is Status.OK, r.message
    assert r.latency is not None and r.latency > 0
    if proto in ("https", "ftps", "smtps", "pop3s", "imaps", "smtp"):
        assert 89 < r.cert_days_left <= 90     # the TLS handshake really happened
    else:
        assert r.cert_days_left is None


def test_messages_say_what_was_seen(node_ok):
    smtp = run(Check("n1", "smtp", node_ok, port_of("smtp")))
    assert "STARTTLS" in smtp.message and "EHLO 250" in smtp.message
    ftps = run(Check("n1", "ftps", node_ok, port_of("ftps")))
    assert "AUTH TLS 234" in ftps.message and "TLSv1.3" in ftps.message
    http = run(Check("n1", "http", node_ok, port_of("http")))
    assert http.message.startswith("HTTP 200")


@pytest.mark.parametrize("proto", ["http", "https", "ftp", "smtp", "pop3s", "imap"])
def test_refused_is_critical_connect(endpoints, proto):
    addr = endpoints.address()  # nothing listens there
    r = run(Check("n1", proto, addr, port_of(proto), timeout=3))
    assert (r.status, r.failure) == (Status.CRITICAL, Failure.CONNECT)
    assert "refused" in r.message
    assert r.latency is None


@pytest.mark.parametrize("proto", ["ftp", "smtps", "pop3", "imaps", "http"])
def test_hanging_server_times_out(endpoints, proto):
    addr = endpoints.address()
    endpoints.start(sim.LISTENER_OF[proto], addr, port_of(proto), sim.Behaviour("hang"))
    try:
        t0 = time.monotonic()
        r = run(Check("n1", proto, addr, port_of(proto), timeout=0.6))
        assert time.monotonic() - t0 < 3
    finally:
        endpoints.stop(addr, port_of(proto))
    assert (r.status, r.failure) == (Status.CRITICAL, Failure.TIMEOUT)


@pytest.mark.parametrize("proto", ["ftp", "smtp", "pop3", "imap"])
def test_wrong_greeting_is_protocol_failure(endpoints, proto):
    addr = endpoints.address()
    endpoints.start(sim.LISTENER_OF[proto], addr, port_of(proto), sim.Behaviour("garbage"))
    try:
        r = run(Check("n1", proto, addr, port_of(proto), timeout=3))
    finally:
        endpoints.stop(addr, port_of(proto))
    assert (r.status, r.failure) == (Status.CRITICAL, Failure.PROTOCOL)
    assert "SSH-2.0" in r.message


@pytest.mark.parametrize("proto", ["pop3", "imap", "smtp"])
def test_immediate_close_is_protocol_failure(endpoints, proto):
    addr = endpoints.address()
    endpoints.start(sim.LISTENER_OF[proto], addr, port_of(proto), sim.Behaviour("close"))
    try:
        r = run(Check("n1", proto, addr, port_of(proto), timeout=3))
    finally:
        endpoints.stop(addr, port_of(proto))
    assert r.status is Status.CRITICAL
    assert r.failure in (Failure.PROTOCOL, Failure.CONNECT)


@pytest.mark.parametrize(("code", "status"), [(200, Status.OK), (301, Status.OK),
                                              (404, Status.WARNING), (503, Status.CRITICAL)])
def test_http_status_ranges(endpoints, code, status):
    addr = endpoints.address()
    endpoints.start("http", addr, 8080, sim.Behaviour(http_status=code))
    try:
        r = run(Check("n1", "http", addr, 8080))
    finally:
        endpoints.stop(addr, 8080)
    assert r.status is status
    assert str(code) in r.message
    assert (r.failure is Failure.STATUS) == (status is not Status.OK)


def test_http_custom_ok_range_and_bad_params(endpoints):
    addr = endpoints.address()
    endpoints.start("http", addr, 8080, sim.Behaviour(http_status=403))
    try:
        ok = run(Check("n1", "http", addr, 8080, params={"ok_status": "200-403"}))
        bad_path = run(Check("n1", "http", addr, 8080, params={"path": "/a b\r\nX: y"}))
        bad_range = run(Check("n1", "http", addr, 8080, params={"ok_status": "700"}))
    finally:
        endpoints.stop(addr, 8080)
    assert ok.status is Status.OK
    assert (bad_path.status, bad_path.failure) == (Status.UNKNOWN, Failure.CONFIG)
    assert (bad_range.status, bad_range.failure) == (Status.UNKNOWN, Failure.CONFIG)


@pytest.mark.parametrize(("cert", "status"), [("soon", Status.WARNING),
                                              ("expired", Status.CRITICAL)])
def test_certificate_expiry(endpoints, cert, status):
    addr = endpoints.address()
    endpoints.start("https", addr, 8443, cert=cert)
    endpoints.start("imaps", addr, 1993, cert=cert)
    try:
        https = run(Check("n1", "https", addr, 8443))
        imaps = run(Check("n1", "imaps", addr, 1993, params={"cert_warn_days": 3}))
    finally:
        endpoints.stop(addr, 8443)
        endpoints.stop(addr, 1993)
    assert (https.status, https.failure) == (status, Failure.CERT)
    assert "certificate" in https.message
    if cert == "soon":
        assert 4 < https.cert_days_left < 5.1
        assert imaps.status is Status.OK        # below its own threshold of 3 days
    else:
        assert https.cert_days_left < -2.9
        assert imaps.status is Status.CRITICAL


def test_tls_verify_rejects_self_signed(node_ok, pki):
    r = run(Check("n1", "https", node_ok, 8443, params={"tls_verify": True}))
    assert (r.status, r.failure) == (Status.CRITICAL, Failure.TLS)
    assert "certificate" in r.message.lower()
    ok = run(Check("n1", "https", node_ok, 8443,
                   params={"tls_verify": True, "ca_file": str(pki["good"][0]),
                           "host": "good.oemhost.test"}))
    assert ok.status is Status.OK, ok.message


def test_starttls_and_auth_tls_missing(endpoints):
    addr = endpoints.address()
    endpoints.start("smtp", addr, 2525, sim.Behaviour(starttls=False))
    endpoints.start("ftp", addr, 2121, sim.Behaviour(starttls=False))
    try:
        offered = run(Check("n1", "smtp", addr, 2525))
        required = run(Check("n1", "smtp", addr, 2525, params={"starttls": "required"}))
        ftps = run(Check("n1", "ftps", addr, 2121))
        ftp = run(Check("n1", "ftp", addr, 2121))
    finally:
        endpoints.stop(addr, 2525)
        endpoints.stop(addr, 2121)
    assert offered.status is Status.OK and "STARTTLS" not in offered.message
    assert (required.status, required.failure) == (Status.CRITICAL, Failure.TLS)
    assert (ftps.status, ftps.failure) == (Status.CRITICAL, Failure.TLS)
    assert "534" in ftps.message
    assert ftp.status is Status.OK


def test_smtp_against_aiosmtpd(smtpd):
    """A real SMTP server (aiosmtpd) with STARTTLS, and its SMTPS twin."""
    r = run(Check("relay", "smtp", smtpd.host, smtpd.port))
    assert r.status is Status.OK, r.message
    assert "STARTTLS" in r.message and r.cert_days_left > 80
    r = run(Check("relay", "smtps", smtpd.host, smtpd.smtps_port))
    assert r.status is Status.OK, r.message


def test_postgresql_real_server(pg):
    ok = run(Check("db", "postgresql", "127.0.0.1", pg.port, credentials=pg.credentials))
    assert ok.status is Status.OK, ok.message
    assert "PostgreSQL 15" in ok.message and "primary" in ok.message
    bad = run(Check("db", "postgresql", "127.0.0.1", pg.port,
                    credentials=Credentials(pg.credentials.user, "wrong", "postgres")))
    assert (bad.status, bad.failure) == (Status.CRITICAL, Failure.AUTH)
    assert "wrong" not in bad.message
    down = run(Check("db", "postgresql", "127.0.0.1", pg.port + 1 if pg.port < 65535 else 1,
                     credentials=pg.credentials, timeout=3))
    assert (down.status, down.failure) == (Status.CRITICAL, Failure.CONNECT)
    nocred = run(Check("db", "postgresql", "127.0.0.1", pg.port))
    assert (nocred.status, nocred.failure) == (Status.UNKNOWN, Failure.CONFIG)


def test_mariadb_real_server(mariadb):
    ok = run(Check("db", "mysql", "127.0.0.1", mariadb.port, credentials=mariadb.credentials))
    assert ok.status is Status.OK, ok.message
    assert "MariaDB" in ok.message and "read-write" in ok.message
    bad = run(Check("db", "mysql", "127.0.0.1", mariadb.port,
                    credentials=Credentials(mariadb.credentials.user, "wrong")))
    assert (bad.status, bad.failure) == (Status.CRITICAL, Failure.AUTH)
    nocred = run(Check("db", "mysql", "127.0.0.1", mariadb.port))
    assert nocred.status is Status.UNKNOWN
    badtls = run(Check("db", "mysql", "127.0.0.1", mariadb.port, params={"tls": "maybe"},
                       credentials=mariadb.credentials))
    assert (badtls.status, badtls.failure) == (Status.UNKNOWN, Failure.CONFIG)


def test_simulated_postgresql_speaks_to_libpq(endpoints):
    """The benchmark's PostgreSQL speaker: a real libpq login (SCRAM) and query."""
    addr = endpoints.address()
    endpoints.start_pg(addr, 5432, "mon", "pw-123", iterations=4096)
    try:
        ok = run(Check("n", "postgresql", addr, 5432, credentials=Credentials("mon", "pw-123"),
                       params={"sslmode": "prefer"}))
        bad = run(Check("n", "postgresql", addr, 5432, credentials=Credentials("mon", "nope")))
        other = run(Check("n", "postgresql", addr, 5432, credentials=Credentials("x", "pw-123")))
    finally:
        endpoints.stop(addr, 5432)
    assert ok.status is Status.OK, ok.message
    assert (bad.status, bad.failure) == (Status.CRITICAL, Failure.AUTH)
    assert (other.status, other.failure) == (Status.CRITICAL, Failure.AUTH)


@pytest.mark.skipif(os.geteuid() != 0, reason="the raw-socket path needs root")
def test_ping_raw_socket_as_root():
    r = run(Check("lo", "ping", "127.0.0.1", params={"packets": 2}))
    assert r.status is Status.OK, r.message
    assert r.message.startswith("2/2 replies")
    assert 0 < r.latency < 0.2


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root to make a network namespace")
def test_ping_datagram_socket_without_privileges_and_unreachable():
    """In a fresh network namespace: allow ICMP datagram sockets for every group, then ping
    with every capability dropped (no CAP_NET_RAW, so no raw socket): loopback answers;
    an address with no route is CRITICAL."""
    script = textwrap.dedent("""
        import asyncio, json, os
        from oemhost.monitor.checks import Check
        from oemhost.monitor.probes import run_checks
        from oemhost.monitor.probes.icmp import open_icmp_socket
        sock, raw = open_icmp_socket(); sock.close()
        rs = asyncio.run(run_checks([
            Check("lo", "ping", "127.0.0.1", params={"packets": 2}),
            Check("gone", "ping", "10.255.255.1", timeout=2, params={"packets": 1, "wait": 1}),
        ]))
        caps = open("/proc/self/status").read().split("CapEff:")[1].split()[0]
        print(json.dumps({"caps": caps, "raw": raw,
                          "r": [[r.status.value, r.message] for r in rs]}))
    """)
    cmd = ("ip link set lo up && sysctl -qw net.ipv4.ping_group_range='0 2147483647' && "
           f"exec {UNPRIVILEGED} {sys.executable} -c "
           + _quote(script))
    out = subprocess.run(["unshare", "--net", "sh", "-c", cmd], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, PYTHONPATH=_src()))
    assert out.returncode == 0, out.stderr
    import json
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert int(data["caps"], 16) == 0 and data["raw"] is False
    (lo_status, lo_msg), (gone_status, gone_msg) = data["r"]
    assert lo_status == "ok", lo_msg
    assert gone_status == "critical" and "no reply" in gone_msg


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root to make a network namespace")
def test_ping_without_permission_is_unknown_with_advice():
    script = ("import asyncio\nfrom oemhost.monitor.checks import Check\n"
              "from oemhost.monitor.probes import run_check\n"
              "r = asyncio.run(run_check(Check('lo', 'ping', '127.0.0.1')))\n"
              "print(r.status.value, r.failure.value, r.message)")
    cmd = ("ip link set lo up && sysctl -qw net.ipv4.ping_group_range='1 0' && "
           f"exec {UNPRIVILEGED} {sys.executable} -c "
           + _quote(script))
    out = subprocess.run(["unshare", "--net", "sh", "-c", cmd], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, PYTHONPATH=_src()))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("unknown config ")
    assert "ping_group_range" in out.stdout


UNPRIVILEGED = "setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all --no-new-privs"


def _quote(s: str) -> str:
    import shlex
    return shlex.quote(s)


def _src() -> str:
    from pathlib import Path
    return str(Path(__file__).resolve().parents[2])


def test_run_checks_bounds_concurrency_and_keeps_order(endpoints):
    """50 checks with concurrency 5: never more than 5 connections open at the server."""
    addr = endpoints.address()
    open_now = {"n": 0, "max": 0}

    class Counting(asyncio.Protocol):
        def connection_made(self, transport):
            open_now["n"] += 1
            open_now["max"] = max(open_now["max"], open_now["n"])
            self.t = transport
            asyncio.get_running_loop().call_later(0.02, self._greet)

        def _greet(self):
            self.t.write(b"+OK counting\r\n")

        def data_received(self, data):
            # counted as done before the answer leaves: the client frees its slot only
            # after reading it (connection_lost can run later, on a loaded machine)
            open_now["n"] -= 1
            self.t.write(b"+OK bye\r\n")
            self.t.close()

    async def start():
        return await asyncio.get_running_loop().create_server(Counting, addr, 1110)

    server = endpoints._run(start())
    try:
        checks = [Check(f"n{i}", "pop3", addr, 1110) for i in range(50)]
        results = asyncio.run(run_checks(checks, concurrency=5))
    finally:
        server.close()
    assert [r.node for r in results] == [f"n{i}" for i in range(50)]
    assert all(r.status is Status.OK for r in results)
    assert 1 <= open_now["max"] <= 5


def test_unknown_protocol_is_unknown():
    r = run(Check("n", "gopher", "127.0.0.1", 70))
    assert (r.status, r.failure) == (Status.UNKNOWN, Failure.CONFIG)


def test_slow_answer_becomes_warning(node_ok):
    r = run(Check("n1", "imap", node_ok, 1143, params={"warn_latency": 0.000001}))
    assert (r.status, r.failure) == (Status.WARNING, Failure.SLOW)


def test_probe_pool_shards_and_keeps_order(node_ok, endpoints):
    """Two prober processes: results come back complete and in input order."""
    down = endpoints.address()
    checks = []
    for i in range(30):
        addr = node_ok if i % 3 else down
        checks.append(Check(f"n{i % 7}", ["http", "imap", "pop3"][i % 3], addr,
                            {0: 8080, 1: 1143, 2: 1110}[i % 3], timeout=3))
    pool = ProbePool(2).start()
    try:
        results = pool.run(checks, concurrency=20)
    finally:
        pool.close()
    assert [(r.node, r.protocol) for r in results] == [(c.node, c.protocol) for c in checks]
    for check, r in zip(checks, results, strict=True):
        assert (r.status is Status.OK) == (check.address == node_ok), r.message
    single = probe_all(checks[:3], processes=1)
    assert [r.protocol for r in single] == ["http", "imap", "pop3"]
