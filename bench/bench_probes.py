"""Probe sweep benchmark: 1,000 simulated endpoints x 12 protocols, against Nagios plugins.

What runs:

- every endpoint has its own loopback address (127.42.x.y); on it, simulated servers
  (oemhost.monitor.simulate, in ``--server-procs`` processes) speak HTTP, HTTPS, FTP with
  AUTH TLS, SMTP with STARTTLS, SMTPS, POP3(S), IMAP(S) - TLS 1.3 with an ECDSA P-256
  certificate and the default session tickets - and the PostgreSQL wire protocol with a
  real SCRAM-SHA-256 login (``--scram-iterations``; default: the iterations the postgresql
  role gives the monitoring login, ``postgresql__monitor_scram_iterations``) and a query;
- MariaDB is a real ``mariadbd`` (Debian package) started in a temporary directory as
  the ``mysql`` user, with a monitoring login; all 1,000 MariaDB checks log in to it and
  run a query (one server, one address: 1,000 real logins);
- ``--pg real`` swaps the PostgreSQL speaker for a real PostgreSQL 15 server (every login
  forks a backend: a cost that falls on 1,000 nodes in production but on this machine here);
- the sweep: oemhost's probes, first in ONE process (asyncio + uvloop), then in a pool of
  ``--processes`` prober processes; the figure is the wall time of all 12,000 checks;
- the baseline: Debian's monitoring-plugins, one process per check (check_http,
  check_ftp/check_tcp, check_smtp, check_ssmtp, check_pop, check_spop, check_imap,
  check_simap, check_pgsql, check_mysql), at the best concurrency found on a sample.

Run as root (``make bench``); prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from oemhost.monitor import simulate as sim  # noqa: E402
from oemhost.monitor.checks import SERVICE_PROTOCOLS, Check, Credentials  # noqa: E402
from oemhost.monitor.dbservers import MariaDBServer, PostgresServer  # noqa: E402
from oemhost.monitor.probes.pool import ProbePool, run_in_loop  # noqa: E402

PORTS = {"http": 10080, "https": 10443, "ftp": 10021, "smtp": 10025, "smtps": 10465,
         "pop3": 10110, "pop3s": 10995, "imap": 10143, "imaps": 10993}
PG_PORT = 15432
PLUGINS = Path("/usr/lib/nagios/plugins")
PG_USER = "oemhost_monitor"


def cpu_of(pids) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def build_checks(addrs, pg_addr_port, pg_cred, my_port, my_cred):
    checks = []
    for i, addr in enumerate(addrs):
        node = f"sim{i:04d}"
        for proto in SERVICE_PROTOCOLS:
            if proto == "postgresql":
                host, port = pg_addr_port(addr)
                checks.append(Check(node, proto, host, port, timeout=15, credentials=pg_cred,
                                    params={"sslmode": "disable"}))
            elif proto == "mysql":
                checks.append(Check(node, proto, "127.0.0.1", my_port, timeout=15,
                                    credentials=my_cred))
            else:
                checks.append(Check(node, proto, addr, PORTS[sim.LISTENER_OF[proto]],
                                    timeout=15))
    return checks


def nagios_argv(check: Check) -> list[str]:
    p, a, port = check.protocol, check.address, str(check.port)
    cred = check.credentials
    return {
        "http": [PLUGINS / "check_http", "-I", a, "-p", port],
        "https": [PLUGINS / "check_http", "-I", a, "-p", port, "-S"],
        "ftp": [PLUGINS / "check_ftp", "-H", a, "-p", port],
        # no plugin does FTP's AUTH TLS handshake: check_tcp sees the 234 reply only
        "ftps": [PLUGINS / "check_tcp", "-H", a, "-p", port, "-e", "220",
                 "-s", "AUTH TLS\r\n", "-e", "234", "-q", "QUIT\r\n"],
        "smtp": [PLUGINS / "check_smtp", "-H", a, "-p", port, "-S"],
        "smtps": [PLUGINS / "check_ssmtp", "-H", a, "-p", port],
        "pop3": [PLUGINS / "check_pop", "-H", a, "-p", port],
        "pop3s": [PLUGINS / "check_spop", "-H", a, "-p", port],
        "imap": [PLUGINS / "check_imap", "-H", a, "-p", port],
        "imaps": [PLUGINS / "check_simap", "-H", a, "-p", port],
        "postgresql": [PLUGINS / "check_pgsql", "-H", a, "-P", port, "-l", cred.user,
                       "-p", cred.password, "-d", "postgres"]
        if cred else [],
        "mysql": [PLUGINS / "check_mysql", "-H", a, "-P", port, "-u", cred.user,
                  "-p", cred.password] if cred else [],
    }[p]


def run_nagios(checks, workers: int) -> tuple[float, Counter, float]:
    """(wall, exit codes, CPU of the plugin processes and of this process)."""
    def one(check: Check) -> int:
        proc = subprocess.run([str(x) for x in nagios_argv(check)], capture_output=True,
                              timeout=60, check=False)
        return proc.returncode

    c0 = os.times()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        codes = Counter(pool.map(one, checks))
    c1 = os.times()
    cpu = sum(b - a for a, b in zip(c0[:4], c1[:4], strict=True))
    return time.perf_counter() - t0, codes, cpu


def summarize(results) -> str:
    by = Counter(r.status.value for r in results)
    bad = Counter((r.protocol, r.message[:60]) for r in results if not r.ok)
    out = ", ".join(f"{k} {v}" for k, v in sorted(by.items()))
    if bad:
        out += "; first problems: " + "; ".join(f"{p}: {m} x{n}"
                                                for (p, m), n in bad.most_common(3))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoints", type=int, default=1000)
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 2,
                    help="prober processes for the pooled sweep")
    ap.add_argument("--concurrency", type=int, default=400)
    ap.add_argument("--server-procs", type=int, default=2)
    ap.add_argument("--pg", choices=("sim", "real"), default="sim")
    role_defaults = yaml.safe_load(
        (PROJECT / "roles/postgresql/defaults/main.yml").read_text())
    ap.add_argument("--scram-iterations", type=int,
                    default=int(role_defaults["postgresql__monitor_scram_iterations"]))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default="one,pool",
                    help="sweeps to time: one (a single process), pool (--processes)")
    ap.add_argument("--baseline-endpoints", type=int, default=1000,
                    help="endpoints for the Nagios run (0: skip the baseline)")
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl-C: the servers started below are stopped, temp dirs removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if os.geteuid() != 0:
        print("bench_probes: run as root (the database servers run as their system users)",
              file=sys.stderr)
        return 1

    tmp = Path(tempfile.mkdtemp(prefix="oemhost-bench-"))
    try:
        return _run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args, tmp: Path) -> int:
    cert, key = sim.make_certificate(tmp / "pki", "bench.oemhost.test", days=90)
    addrs = sim.endpoint_addresses(args.endpoints, "127.42.0.1")
    pg_password = secrets.token_urlsafe(18)
    spec = sim.FleetSpec(addrs, PORTS, cert, key,
                         pg_port=PG_PORT if args.pg == "sim" else 0, pg_user=PG_USER,
                         pg_password=pg_password, pg_iterations=args.scram_iterations)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"== {args.endpoints} endpoints x {len(SERVICE_PROTOCOLS)} protocols "
          f"= {args.endpoints * len(SERVICE_PROTOCOLS)} checks; {os.cpu_count()} CPUs, "
          f"load average {load} (figures are only comparable on an idle machine); "
          f"PostgreSQL: {'simulated wire protocol' if args.pg == 'sim' else 'real server'} "
          f"(SCRAM {args.scram_iterations} iterations); MariaDB: real server")
    t = time.perf_counter()
    pg_real = PostgresServer(port=PG_PORT, max_connections=600) if args.pg == "real" else None
    with sim.Fleet(spec, args.server_procs) as fleet, MariaDBServer(
            port=13306, max_connections=600) as mariadb:
        if pg_real is not None:
            pg_real.__enter__()
        try:
            if pg_real is not None:
                pg_cred = pg_real.credentials
                pg_target = lambda addr: ("127.0.0.1", PG_PORT)  # noqa: E731
            else:
                pg_cred = Credentials(PG_USER, pg_password, "postgres")
                pg_target = lambda addr: (addr, PG_PORT)  # noqa: E731
            checks = build_checks(addrs, pg_target, pg_cred, mariadb.port, mariadb.credentials)
            harness = [p.pid for p in fleet.procs] + [mariadb.proc.pid] + (
                [pg_real.proc.pid] if pg_real else [])
            print(f"setup {time.perf_counter() - t:.1f} s")
            run_sweeps(args, checks, harness)
            if args.baseline_endpoints:
                run_baseline(args, checks)
        finally:
            if pg_real is not None:
                pg_real.__exit__(None, None, None)
    return 0


def run_sweeps(args, checks, harness) -> None:
    n = len(checks)
    modes = set(args.modes.split(","))
    run_in_loop(checks[:24], args.concurrency)   # warm-up: imports, contexts
    walls = [float("inf")]
    for _ in range(args.repeat if "one" in modes else 0):
        c0, h0 = os.times(), cpu_of(harness)
        t0 = time.perf_counter()
        results = run_in_loop(checks, args.concurrency)
        wall = time.perf_counter() - t0
        c1, h1 = os.times(), cpu_of(harness)
        walls.append(wall)
        cpu = c1.user + c1.system - c0.user - c0.system
        print(f"one process : {n} checks in {wall:5.2f} s ({n / wall:6.0f} checks/s); "
              f"prober CPU {cpu:5.1f} s ({cpu / n * 1000:.2f} ms/check), "
              f"servers CPU {h1 - h0:4.1f} s; {summarize(results)}")
    one = min(walls)
    if "pool" not in modes:
        args._best = one
        target = (f"; target (12,000 checks <= 10 s): {'met' if one <= 10 else 'NOT met'}"
                  if n == 12000 else "")
        print(f"RESULT oemhost sweep of {n} checks: best {one:.2f} s in one process{target}")
        return
    pool = ProbePool(args.processes).start()
    pids = list(pool._pool()._processes)  # the pool's worker processes
    walls = []
    try:
        pool.run(checks[:24], args.concurrency)
        for _ in range(args.repeat):
            p0, h0 = cpu_of(pids), cpu_of(harness)
            t0 = time.perf_counter()
            results = pool.run(checks, args.concurrency)
            wall = time.perf_counter() - t0
            p1, h1 = cpu_of(pids), cpu_of(harness)
            walls.append(wall)
            print(f"{args.processes} processes: {n} checks in {wall:5.2f} s "
                  f"({n / wall:6.0f} checks/s); prober CPU {p1 - p0:5.1f} s "
                  f"({(p1 - p0) / n * 1000:.2f} ms/check), "
                  f"servers CPU {h1 - h0:4.1f} s; {summarize(results)}")
    finally:
        pool.close()
    pooled = min(walls)
    best = min(pooled, one)
    target = (f"; target (12,000 checks <= 10 s): {'met' if best <= 10 else 'NOT met'}"
              if n == 12000 else "")
    single = f", {one:.2f} s in one process" if one != float("inf") else ""
    print(f"RESULT oemhost sweep of {n} checks: {pooled:.2f} s with {args.processes} "
          f"prober processes (median {statistics.median(walls):.2f} s){single}{target}")
    args._best = best


def run_baseline(args, checks) -> None:
    if not (PLUGINS / "check_http").exists():
        print("baseline skipped: monitoring-plugins-basic/-standard not installed")
        return
    per_endpoint = len(SERVICE_PROTOCOLS)
    subset = checks[: args.baseline_endpoints * per_endpoint]
    sample = checks[: min(len(checks), 50 * per_endpoint)]
    best = (0.0, 0)
    for workers in (8, 16, 32, 64):
        wall, codes, cpu = run_nagios(sample, workers)
        rate = len(sample) / wall
        print(f"nagios plugins, {workers:2d} in parallel: {len(sample)} checks in {wall:5.2f} s "
              f"({rate:5.0f} checks/s, {cpu / len(sample) * 1000:.2f} ms CPU/check); "
              f"exit codes {dict(codes)}")
        best = max(best, (rate, workers))
    wall, codes, cpu = run_nagios(subset, best[1])
    rate = len(subset) / wall
    full = len(checks) / rate
    print(f"RESULT nagios plugins ({best[1]} in parallel, one process per check): "
          f"{len(subset)} checks in {wall:.2f} s ({rate:.0f} checks/s, "
          f"{cpu / len(subset) * 1000:.2f} ms CPU/check)"
          + (f", {len(checks)} would take {full:.1f} s" if len(subset) < len(checks) else "")
          + f"; exit codes {dict(codes)}")
    ours = getattr(args, "_best", None)
    if ours:
        print(f"RESULT speed-up over the baseline: {full / ours:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
