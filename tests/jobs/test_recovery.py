"""A worker that dies, hangs or stops: its runs are recovered, never a live one's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from oemhost.db.models.jobs import Job, JobNodeLock, JobRun, JobWorker, utcnow
from oemhost.jobs import procs
from oemhost.jobs.recovery import Identity, recover

VENV_BIN = Path(sys.executable).parent

BACKENDS = ["sqlite", "postgresql"]  # see conftest.jobenv


def start_worker_process(env, name: str, *args: str) -> subprocess.Popen:
    with open(env.root / f"{name}.log", "w") as log:  # the child keeps its own copy
        return subprocess.Popen([str(VENV_BIN / "oemhost"), "worker", "--no-scheduler", *args],
                                env=env.env, stdout=log, stderr=subprocess.STDOUT)


def _running_run(env):
    with env.factory() as s:
        run = s.scalar(select(JobRun).where(JobRun.status == "running"))
        return run if run is not None and run.ansible_pid else None


@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)
def test_sigkill_mid_run_interrupts_requeues_once_and_converges(jobenv, wait_until):
    job_id = jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n1"],
                           tenant_scope=["shop1"], extravars={"oemhost_test_sleep": 30})
    first = start_worker_process(jobenv, "worker1")
    try:
        run = wait_until(lambda: _running_run(jobenv), timeout=60, what="the run to start")
        wait_until(lambda: jobenv.log("n1"), what="the play to reach the node")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        # the orphaned ansible-playbook ends with its worker (oemhost_watchdog)
        wait_until(lambda: not procs.is_running(run.ansible_pid, run.ansible_start),
                   timeout=5, what="the orphaned ansible-playbook to end")
    finally:
        if first.poll() is None:
            first.kill()
    with jobenv.factory() as s:
        assert s.get(Job, job_id).status == "running"  # nobody has looked yet
    second = start_worker_process(jobenv, "worker2")
    try:
        job = jobenv.wait(job_id, timeout=60)
        assert job.status == "failed" and job.error.startswith("interrupted: worker ")
        with jobenv.factory() as s:
            again = s.scalars(select(Job).where(Job.retry_of == job_id)).all()
            assert len(again) == 1 and again[0].origin == "recovery"
            again_id = again[0].id
        done = jobenv.wait(again_id, timeout=120)
        assert done.status == "succeeded"
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    with jobenv.factory() as s:
        runs = s.scalars(select(JobRun).order_by(JobRun.id)).all()
        assert [r.status for r in runs] == ["interrupted", "succeeded"]
        assert runs[1].started_at >= runs[0].finished_at  # never two at once
        assert s.scalars(select(JobNodeLock)).all() == []
        statuses = dict(s.execute(select(JobWorker.id, JobWorker.status)).all())
        assert sorted(statuses.values()) == ["dead", "stopped"]
    starts = [e for e in jobenv.log("n1") if e[0] == "start"]
    ends = [e for e in jobenv.log("n1") if e[0] == "end"]
    assert [e[2] for e in starts] == ["shop1", "shop1"] and len(ends) == 1
    assert ends[0][1] > starts[1][1]


def _fake_worker(s, wid, *, host="elsewhere", age=0.0, pid=1, start=""):
    s.add(JobWorker(id=wid, hostname=host, boot_id="b" if host == "elsewhere" else
                    Identity.current().boot_id, pid=pid, proc_start=start,
                    heartbeat_at=utcnow() - timedelta(seconds=age)))


def _fake_run(s, wid, node, *, origin="submit"):
    run = JobRun(worker_id=wid, kind="provision", playbook="converge.yml", nodes=[node],
                 tags=[], extravars={}, timeout_s=60, private_data_dir="")
    s.add(run)
    s.flush()
    s.add(JobNodeLock(node=node, run_id=run.id, worker_id=wid))
    job = Job(kind="provision", playbook="converge.yml", nodes=[node], tags=[], extravars={},
              priority=50, status="running", requested_by="t", origin=origin,
              run_id=run.id)
    s.add(job)
    s.flush()
    return run.id, job.id


@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)
def test_recovery_takes_only_what_dead_workers_held(jobenv):
    me = Identity.current()
    gone = subprocess.Popen(["true"])
    gone.wait()
    with jobenv.factory() as s, s.begin():
        _fake_worker(s, "me", host=me.hostname)
        _fake_worker(s, "remote-alive", age=1)
        _fake_worker(s, "remote-stale", age=60)
        _fake_worker(s, "local-gone", host=me.hostname, pid=gone.pid, start="1")
        _fake_worker(s, "local-alive", host=me.hostname, pid=os.getpid(),
                     start=me.proc_start, age=1)
        ids = {w: _fake_run(s, w, n) for w, n in [("remote-alive", "n1"),
                                                   ("remote-stale", "n2"),
                                                   ("local-gone", "n3"),
                                                   ("local-alive", "n4")]}
        again = _fake_run(s, "remote-stale", "n5", origin="recovery")
    recovered = recover(jobenv.factory, "me", me, jobenv.cfg)
    assert sorted(recovered) == sorted([ids["remote-stale"][0], ids["local-gone"][0],
                                        again[0]])
    with jobenv.factory() as s:
        status = dict(s.execute(select(JobWorker.id, JobWorker.status)).all())
        assert status == {"me": "alive", "remote-alive": "alive", "remote-stale": "dead",
                          "local-gone": "dead", "local-alive": "alive"}
        locks = set(s.scalars(select(JobNodeLock.node)))
        assert locks == {"n1", "n4"}
        for w, (run_id, job_id) in ids.items():
            run, job = s.get(JobRun, run_id), s.get(Job, job_id)
            if w in ("remote-alive", "local-alive"):
                assert run.status == "running" and job.status == "running"
            else:
                assert run.status == "interrupted" and job.status == "failed"
                assert "interrupted" in job.error
        requeued = s.scalars(select(Job).where(Job.status == "queued")).all()
        # once: the job that was itself a re-queued one is not queued a third time
        assert sorted(j.retry_of for j in requeued) == sorted([ids["remote-stale"][1],
                                                               ids["local-gone"][1]])
        assert all(j.origin == "recovery" for j in requeued)
    assert recover(jobenv.factory, "me", me, jobenv.cfg) == []  # nothing twice


def test_a_live_worker_is_never_robbed(jobenv, wait_until):
    running = jobenv.start_worker()
    try:
        job_id = jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n1"],
                               extravars={"oemhost_test_sleep": 8})
        wait_until(lambda: jobenv.log("n1"), what="the run to start")
        other = Identity(hostname="otherhost", boot_id="other", pid=1, proc_start="")
        with jobenv.factory() as s, s.begin():
            _fake_worker(s, "other")
        t_end = time.monotonic() + jobenv.cfg.stale_after + 1
        while time.monotonic() < t_end:  # longer than stale_after: heartbeats keep it alive
            assert recover(jobenv.factory, "other", other, jobenv.cfg) == []
            with jobenv.factory() as s, s.begin():  # "other" itself stays alive
                s.execute(update(JobWorker).where(JobWorker.id == "other")
                          .values(heartbeat_at=utcnow()))
            time.sleep(0.5)
        assert jobenv.wait(job_id).status == "succeeded"
    finally:
        running.stop()


def test_a_worker_declared_dead_fences_itself(jobenv, wait_until):
    running = jobenv.start_worker()
    job_id = jobenv.submit(kind="remediation", playbook="sleep.yml", nodes=["n1"],
                           extravars={"sleep_s": 300})
    run = wait_until(lambda: _running_run(jobenv), what="the run to start")
    with jobenv.factory() as s, s.begin():
        s.execute(update(JobWorker).where(JobWorker.id == running.worker.id)
                  .values(status="dead"))
    running.thread.join(timeout=60)
    assert not running.thread.is_alive()
    assert running.worker.fenced == "another worker declared this one dead"
    assert not procs.is_running(run.ansible_pid, run.ansible_start)
    with jobenv.factory() as s:
        assert s.get(Job, job_id).status == "failed"


def test_sigterm_lets_running_jobs_finish(jobenv, wait_until):
    job_id = jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n2"],
                           extravars={"oemhost_test_sleep": 3})
    w = start_worker_process(jobenv, "drain")
    try:
        wait_until(lambda: jobenv.log("n2"), what="the run to start")
        w.send_signal(signal.SIGTERM)
        assert w.wait(timeout=60) == 0
    finally:
        if w.poll() is None:
            w.kill()
    with jobenv.factory() as s:
        assert s.get(Job, job_id).status == "succeeded"
        assert s.scalar(select(JobWorker.status)) == "stopped"


def test_sigterm_without_drain_interrupts_and_requeues(jobenv, wait_until):
    job_id = jobenv.submit(kind="remediation", playbook="sleep.yml", nodes=["n3"],
                           extravars={"sleep_s": 300})
    w = start_worker_process(jobenv, "nodrain", "--drain", "0")
    try:
        wait_until(lambda: _running_run(jobenv), what="the run to start")
        w.send_signal(signal.SIGTERM)
        assert w.wait(timeout=60) == 0
    finally:
        if w.poll() is None:
            w.kill()
    with jobenv.factory() as s:
        job = s.get(Job, job_id)
        assert job.status == "failed" and job.error == "interrupted: worker stopping"
        again = s.scalars(select(Job).where(Job.retry_of == job_id)).one()
        assert again.status == "queued" and again.origin == "recovery"
