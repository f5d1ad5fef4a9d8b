"""Benchmark of usage collection on the control-plane side (prints figures; asserts
nothing): what one collection of a node with N tenants costs once the node has answered.

- parsing ``doveadm -f tab quota get -A`` output of 3 mailboxes per tenant and assigning
  them to tenants (the module's plain functions, as on the node);
- storing the collection (``oemhost.usage.collect.record``: node sample, rates, N tenant
  samples and current rows) in SQLite (WAL);
- the panels' read of a page of 50 tenants (``tenant_disk``) and of a week graph;
- the prune of two days of raw samples (144 collections a day) into hourly ones.

Usage: ``python bench/bench_usage.py [N ...]`` (default 100 500 2000).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "library"))

from modload import load  # noqa: E402

from oemhost import usage  # noqa: E402
from oemhost.db import make_engine, migrate, session_factory, session_scope  # noqa: E402
from oemhost.usage.collect import record  # noqa: E402
from oemhost.usage.config import UsageConfig  # noqa: E402
from oemhost.usage.prune import prune  # noqa: E402

MB = 1024 * 1024


def payload(n: int, step: int) -> tuple[dict, str]:
    tenants, lines = {}, ["Username\tQuota name\tType\tValue\tLimit\t%"]
    for i in range(n):
        tid = f"t{i:05d}"
        tenants[tid] = {"web": {"used": (i + step) * MB, "limit": 1500 * MB},
                        "mail": {"used": MB, "limit": 500 * MB},
                        "total": {"used": (i + step + 1) * MB, "limit": 2000 * MB}}
        for b in range(3):
            lines.append(f"box{b}@{tid}.example\tUser quota\tSTORAGE\t{b * 100}\t102400\t0")
            lines.append(f"box{b}@{tid}.example\tUser quota\tMESSAGE\t{b}\t-\t0")
    node = {"boot_id": "b", "load": [0.1, 0.1, 0.1],
            "filesystems": [{"mount": "/srv", "fstype": "btrfs", "device": "/dev/x",
                             "used_bytes": 10**9, "total_bytes": 10**10}],
            "memory": {"total_bytes": 8 * 1024 * MB, "used_bytes": 2 * 1024 * MB},
            "network": {"eth0": {"rx_bytes": step * 10**6, "tx_bytes": step * 10**6}}}
    return {"usage": {"node": node, "tenants": tenants}, "databases": []}, "\n".join(lines)


def bench(n: int) -> None:
    mod = load("oemhost_usage")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate(url)
        engine = make_engine(url)
        factory = session_factory(engine)
        data, doveadm = payload(n, 0)
        t0 = time.perf_counter()
        boxes = mod.parse_doveadm_quota(doveadm)
        owned = mod.assign_mailboxes(boxes, [{"tenant": t, "domains": [f"{t}.example"]}
                                             for t in data["usage"]["tenants"]])
        for t, b in owned.items():
            data["usage"]["tenants"][t]["mailboxes"] = b
        parse_s = time.perf_counter() - t0
        at = datetime.now(UTC) - timedelta(days=2, hours=2)
        times = []
        for step in range(3):
            data["usage"]["node"]["network"]["eth0"]["rx_bytes"] = step * 10**6
            t0 = time.perf_counter()
            with session_scope(factory) as s:
                record(s, "node1", data, at=at + timedelta(minutes=10 * step))
            times.append(time.perf_counter() - t0)
        with factory() as s:
            t0 = time.perf_counter()
            usage.tenant_disk(s, [f"t{i:05d}" for i in range(50)])
            page_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            usage.node_series(s, "node1", "disk_used_mb", "week")
            graph_s = time.perf_counter() - t0
        # two days of raw collections, then the prune (only a few tenants: the cost is per row)
        with session_scope(factory) as s:
            t0 = time.perf_counter()
            res = prune(s, UsageConfig(), now=at + timedelta(days=2, hours=3))
            prune_s = time.perf_counter() - t0
        engine.dispose()
    print(f"{n:6d} tenants: doveadm parse+assign {parse_s * 1000:7.1f} ms | store one "
          f"collection {min(times) * 1000:7.1f} ms (first {times[0] * 1000:.1f} ms) | page of "
          f"50 {page_s * 1000:5.1f} ms | week graph {graph_s * 1000:5.1f} ms | prune "
          f"{res.to_hour} raw rows {prune_s * 1000:7.1f} ms")


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or [100, 500, 2000]:
        bench(n)
