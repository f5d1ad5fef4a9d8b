"""Many processes writing at once: nothing lost, stale changes refused, history complete."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from oemhost.store import Store

from .conftest import git, tenant_record

WORKER = r"""
import json, os, sys, time
from pathlib import Path
from oemhost.errors import OemhostError
from oemhost.store import Store

inv, go, job = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
store = Store(inv, lock_timeout=900)  # about correctness, not latency
version = store.get_tenant(job["tenant"]).version   # read before the start signal
while not go.exists():
    time.sleep(0.005)
try:
    if job["op"] == "contractor":
        commit = store.change_tenant(job["tenant"], {"contractor": job["value"]},
                                     actor=job["actor"], expected_version=version)
    else:
        commit = store.add_mailbox(job["tenant"], job["value"], "mailbox-pass-1", 10,
                                   actor=job["actor"])
    print(json.dumps({"ok": True, "commit": commit}))
except OemhostError as exc:
    print(json.dumps({"ok": False, "error": type(exc).__name__, "message": str(exc)}))
"""


def test_fifty_tenants_ten_stale_and_ten_merged_writers(store: Store, tmp_path, cli):
    store.change_plan("acme", "basic", {"max_mailboxes": 20}, actor="ops:t")
    store.change_reseller("acme", {"limits": {"disk_mb": 10**6}}, actor="ops:t")
    ids = [f"ten{i:02d}" for i in range(50)]
    for tid in ids + ["same1", "many1"]:
        store.add_tenant(tenant_record(tid, domains=[f"{tid}.example"]),
                         password="tenant-password-1", actor="ops:t")
    start = int(git(store.root, "rev-list", "--count", "HEAD"))
    jobs = [{"tenant": tid, "op": "contractor", "value": f"parallel {tid}",
             "actor": f"ops:w{i}"} for i, tid in enumerate(ids)]
    jobs += [{"tenant": "same1", "op": "contractor", "value": f"same by {i}",
              "actor": f"reseller:acme/u{i}"} for i in range(10)]
    jobs += [{"tenant": "many1", "op": "mailbox", "value": f"box{i}@many1.example",
              "actor": "tenant:many1"} for i in range(10)]
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(store.root), str(go),
                               json.dumps(job)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for job in jobs]
    time.sleep(2)  # let every worker read its version
    go.touch()
    results = []
    for proc, job in zip(procs, jobs, strict=True):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        results.append((job, json.loads(out.strip().splitlines()[-1])))

    fresh = Store(store.root)
    # 50 different tenants: every change accepted and on disk
    for job, res in results[:50]:
        assert res["ok"], res
        assert fresh.get_tenant(job["tenant"]).contractor == job["value"]
    # 10 writers of one tenant from the same version: one wins, nine are refused as stale
    same = [res for _job, res in results[50:60]]
    winners = [r for r in same if r["ok"]]
    assert len(winners) == 1
    assert all(r["error"] == "ConflictError" and "stale" in r["message"]
               for r in same if not r["ok"])
    winner_job = results[50 + same.index(winners[0])][0]
    assert fresh.get_tenant("same1").contractor == winner_job["value"]
    # 10 writers adding to one tenant without a version: serialised, none lost
    assert all(res["ok"] for _job, res in results[60:])
    assert sorted(m.address for m in fresh.get_tenant("many1").mailboxes) == sorted(
        job["value"] for job, _res in results[60:])

    # every accepted change is one commit, by its actor
    accepted = [(job, res) for job, res in results if res["ok"]]
    assert int(git(store.root, "rev-list", "--count", "HEAD")) == start + len(accepted) == \
        start + 61
    log = git(store.root, "log", f"-{len(accepted)}", "--format=%H %an")
    by_commit = dict(line.split(" ", 1) for line in log.splitlines())
    for job, res in accepted:
        assert by_commit[res["commit"]] == job["actor"]
    assert git(store.root, "status", "--porcelain") == ""
    subprocess.run(["git", "fsck", "--strict"], cwd=store.root, check=True,
                   capture_output=True)
    code, out, err = cli("inventory", "check", "-i", str(store.root))
    assert code == 0, out + err
    assert "0 errors, 0 warnings" in out

