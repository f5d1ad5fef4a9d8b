"""Kill a service on a converged lab node; time detection, restart and verification.

The issue's target: at a 30 s probe interval, a killed service is detected, restarted and
verified within 60 s. This boots one lab node, converges site.yml with one tenant
(tests/monitor/lab_support.py), runs the job engine's worker, and for each unit asked
(default: apache2, dovecot, mariadb) kills it at a random moment of the probe cycle, then
runs the monitor as the worker's scheduler would (sweep every `--interval` s, follow-up
every `--followup` s) and prints, from the incident's timeline:

  detected  = HARD confirmation (first failed probe + retries) - kill
  restarted = restart job's result recorded - kill
  verified  = incident recovered (probes answer again) - kill

Root needed (the lab). Figures depend on the machine's load (printed first).
    .venv/bin/python bench/bench_remediation.py [--interval 30] [--units apache2 mariadb]
    OEMHOST_TEST_KEEP_LAB=/tmp/x .venv/bin/python bench/bench_remediation.py \
        --lab-name pytest-monitor       # reuse the lab tests' kept node (development)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.monitor.lab_support import KILL_UNITS, converged_site, kill_command  # noqa: E402

GROUP = {"apache2": "web", "postfix": "mail", "dovecot": "mail", "pure-ftpd": "ftp",
         "mariadb": "mariadb", "postgresql": "postgresql"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=float, default=30.0, help="probe interval (s)")
    ap.add_argument("--retry-interval", type=float, default=5.0)
    ap.add_argument("--max-attempts", type=int, default=2)
    ap.add_argument("--followup", type=float, default=5.0, help="follow-up interval (s)")
    ap.add_argument("--units", nargs="+", default=["apache2", "dovecot", "mariadb"],
                    choices=sorted(KILL_UNITS))
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--lab-name", default="bench-remediation",
                    help="lab name (with OEMHOST_TEST_KEEP_LAB=DIR: reuse that kept lab)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (the lab boots a node)", file=sys.stderr)
        return 2
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; "
          f"interval {args.interval:g} s, retries {args.max_attempts - 1} x "
          f"{args.retry_interval:g} s, follow-up every {args.followup:g} s")
    # each kill is measured on an incident of its own (in production a failure within 30
    # minutes of the previous one reopens it)
    from datetime import timedelta

    import oemhost.monitor.incidents as incidents
    incidents.REOPEN_WITHIN = timedelta(0)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-remediation-") as tmp, \
            converged_site(Path(tmp), args.lab_name) as site:
        print(f"lab node converged in {time.monotonic() - t0:.0f} s")
        mon = site.monitor(interval=args.interval, retry_interval=args.retry_interval,
                           max_attempts=args.max_attempts, followup_interval=args.followup)
        mon.sweep(force=True)
        rows = []
        for unit in args.units:
            rows.append(run_one(site, mon, unit, args))
        print(f"\n{'unit':<12}{'detected':>10}{'restarted':>11}{'verified':>10}   within 60 s")
        for unit, det, res, ver in rows:
            ok = "yes" if ver is not None and ver <= 60 else "no"
            print(f"{unit:<12}{fmt(det):>10}{fmt(res):>11}{fmt(ver):>10}   {ok}")
    return 0


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} s"


def run_one(site, mon, unit: str, args) -> tuple[str, float | None, float | None,
                                                 float | None]:
    """Scheduler-like loop: the sweep every interval, the follow-up every followup s, in
    two threads as APScheduler runs them; the kill lands at a random point of a cycle."""
    base = site.last_incident_id(mon)
    stop = threading.Event()

    def every(period: float, fn) -> threading.Thread:
        def loop():
            while not stop.is_set():
                t = time.monotonic()
                fn()
                stop.wait(max(0.0, period - (time.monotonic() - t)))
        th = threading.Thread(target=loop, daemon=True)
        th.start()
        return th

    threads = [every(args.interval, mon.sweep), every(args.followup, mon.followup)]
    time.sleep(random.uniform(0, args.interval))  # noqa: S311 - not crypto
    killed = time.time()
    site.ssh(kill_command(unit))
    deadline = time.monotonic() + args.timeout
    inc = None
    while time.monotonic() < deadline:
        incs = [i for i in site.incidents(mon, base) if i.service == GROUP[unit]]
        if incs and incs[0].status == "recovered":
            inc = incs[0]
            break
        time.sleep(0.5)
    stop.set()
    for th in threads:
        th.join(args.interval + 60)
    if inc is None:
        print(f"{unit}: not recovered within {args.timeout:g} s")
        return unit, None, None, None
    result = next((e.at for e in inc.events if e.kind == "restart_result"), None)
    det = inc.detected_at.timestamp() - killed
    res = result.timestamp() - killed if result else None
    ver = inc.recovered_at.timestamp() - killed
    print(f"{unit}: detected {fmt(det)}, restart result {fmt(res)}, verified {fmt(ver)} "
          f"(incident #{inc.id})")
    return unit, det, res, ver


if __name__ == "__main__":
    raise SystemExit(main())
