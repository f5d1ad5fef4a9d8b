"""The jobs engine against real Debian lab nodes over SSH (marker ``lab``: root needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from oemhost.config import PROJECT_DIR
from oemhost.db.models.jobs import Job, JobNodeLock, JobRun
from oemhost.jobs import procs

pytestmark = pytest.mark.lab
VENV_BIN = Path(sys.executable).parent
BASE = "/var/lib/oemhost-test"
LAB_PROJECT = Path(__file__).resolve().parent / "fixtures" / "lab_project"


@pytest.fixture(scope="module")
def lab():
    from oemhost.lab import Lab

    lab = Lab(PROJECT_DIR, "pytest-jobs", inventory_dir=None)
    lab.down(progress=lambda _m: None)
    try:
        lab.up(nodes=2, progress=lambda _m: None)
        yield lab
    finally:
        lab.down(progress=lambda _m: None)


@pytest.fixture
def labenv(lab, make_jobenv):
    st = lab.status()
    hosts = {n["name"]: {
        "ansible_host": n["address"], "ansible_user": "root",
        "ansible_ssh_private_key_file": st["key_file"],
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={st['known_hosts']} "
                                   "-o StrictHostKeyChecking=yes",
        "oemhost_test_tenants": []} for n in st["nodes"]}
    env = make_jobenv(project=LAB_PROJECT, hosts=hosts)
    for node in hosts:
        lab.ssh(node, f"rm -rf {BASE}", check=True)
    return env


def declare_tenants(env, node: str, tenants: list[str]) -> None:
    """What the store does before it submits: the tenant is in the inventory."""
    path = env.inventory / "host_vars" / f"{node}.yml"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"oemhost_test_tenants": tenants}))
    os.replace(tmp, path)


def served(lab, node: str) -> set[str]:
    out = lab.ssh(node, f"ls {BASE}/tenants 2>/dev/null || true", check=True).stdout
    return set(out.split())


def node_runs(lab, node: str) -> list[tuple[str, float]]:
    out = lab.ssh(node, f"cat {BASE}/runs.log 2>/dev/null || true", check=True).stdout
    return [(ln.split()[0], float(ln.split()[1])) for ln in out.splitlines() if ln.strip()]


def test_twenty_changes_in_two_seconds_make_at_most_two_runs(lab, labenv):
    w = labenv.start_worker()
    try:
        tenants, ids = [], []
        t0 = time.monotonic()
        for i in range(20):
            tenants.append(f"lab{i:02d}x")
            declare_tenants(labenv, "node1", tenants)
            ids.append(labenv.submit(kind="provision", playbook="tenants.yml",
                                     nodes=["node1"], tenant_scope=[tenants[-1]],
                                     reason=f"change {i}"))
            time.sleep(max(0.0, t0 + (i + 1) * 0.1 - time.monotonic()))
        assert time.monotonic() - t0 < 2.5
        for j in ids:
            assert labenv.wait(j, timeout=300).status == "succeeded"
    finally:
        w.stop()
    with labenv.factory() as s:
        runs = s.scalar(select(func.count(func.distinct(Job.run_id))).where(Job.id.in_(ids)))
    assert 1 <= runs <= 2
    assert served(lab, "node1") == set(tenants)
    assert served(lab, "node2") == set()
    assert len([r for r in node_runs(lab, "node1") if r[0] == "start"]) == runs


def test_two_nodes_in_parallel_a_long_job_does_not_delay_the_other(lab, labenv, wait_until):
    declare_tenants(labenv, "node1", ["slow1x"])
    declare_tenants(labenv, "node2", ["fast1x"])
    w = labenv.start_worker()
    try:
        slow = labenv.submit(kind="provision", playbook="tenants.yml", nodes=["node1"],
                             extravars={"oemhost_test_sleep": 20})
        wait_until(lambda: node_runs(lab, "node1"), timeout=60, interval=0.5,
                   what="the long run on node1")
        fast = labenv.submit(kind="provision", playbook="tenants.yml", nodes=["node2"])
        assert labenv.wait(fast, timeout=120).status == "succeeded"
        with labenv.factory() as s:
            assert s.get(Job, slow).status == "running"
        assert labenv.wait(slow, timeout=120).status == "succeeded"
    finally:
        w.stop()
    with labenv.factory() as s:
        a = s.get(JobRun, s.get(Job, slow).run_id)
        b = s.get(JobRun, s.get(Job, fast).run_id)
    assert a.started_at < b.started_at and b.finished_at < a.finished_at
    assert served(lab, "node1") == {"slow1x"} and served(lab, "node2") == {"fast1x"}


def start_worker_process(env, name: str) -> subprocess.Popen:
    with open(env.root / f"{name}.log", "w") as log:
        return subprocess.Popen([str(VENV_BIN / "oemhost"), "worker", "--no-scheduler"],
                                env=env.env, stdout=log, stderr=subprocess.STDOUT)


def test_sigkill_during_a_run_then_restart_converges_once(lab, labenv, wait_until):
    declare_tenants(labenv, "node1", ["kill1x"])
    job_id = labenv.submit(kind="provision", playbook="tenants.yml", nodes=["node1"],
                           tenant_scope=["kill1x"], extravars={"oemhost_test_sleep": 15})
    first = start_worker_process(labenv, "worker1")
    try:
        wait_until(lambda: node_runs(lab, "node1"), timeout=90, interval=0.5,
                   what="the run to reach node1")
        with labenv.factory() as s:
            run = s.scalar(select(JobRun))
        assert run.ansible_pid
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        wait_until(lambda: not procs.is_running(run.ansible_pid, run.ansible_start),
                   timeout=5, what="the orphaned ansible-playbook to end")
    finally:
        if first.poll() is None:
            first.kill()
    second = start_worker_process(labenv, "worker2")
    try:
        job = labenv.wait(job_id, timeout=120)
        assert job.status == "failed" and job.error.startswith("interrupted")
        with labenv.factory() as s:
            (again,) = s.scalars(select(Job).where(Job.retry_of == job_id)).all()
        assert again.origin == "recovery"
        assert labenv.wait(again.id, timeout=180).status == "succeeded"
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=120) == 0
    with labenv.factory() as s:
        runs = s.scalars(select(JobRun).order_by(JobRun.id)).all()
        assert [r.status for r in runs] == ["interrupted", "succeeded"]
        assert runs[1].started_at >= runs[0].finished_at
        assert s.scalars(select(Job).where(Job.status.in_(["queued", "running"]))).all() == []
        assert s.scalars(select(JobNodeLock)).all() == []
    assert served(lab, "node1") == {"kill1x"}
    log = node_runs(lab, "node1")
    assert [e[0] for e in log] == ["start", "start", "end"]
