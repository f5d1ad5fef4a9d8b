"""Real ansible-runner runs through the worker (local "nodes")."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from oemhost.db.models.jobs import Job, JobEvent, JobRun
from oemhost.jobs import procs, queue

BACKENDS = ["sqlite", "postgresql"]  # see conftest.jobenv


def _job(env, job_id):
    with env.factory() as s:
        job = queue.get_job(s, job_id)
        job.run  # noqa: B018 - load it
        return job


@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)
def test_a_job_runs_and_its_progress_is_stored(jobenv, worker):
    job_id = jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n1"],
                           tenant_scope=["shop1"])
    job = jobenv.wait(job_id)
    assert job.status == "succeeded", job.error
    assert job.host_results["n1"]["ok"] == 3 and job.host_results["n1"]["changed"] == 2
    assert job.host_results["n1"]["failed"] == 0
    assert [e[2] for e in jobenv.log("n1")] == ["shop1", ""]  # the scope reached the play
    assert jobenv.log("n2") == []  # --limit
    with jobenv.factory() as s:
        events = queue.events_since(s, job_id)
        tasks = [e.stdout for e in events if e.event == "playbook_on_task_start"]
        assert any("Record the start of the run on this node" in t for t in tasks)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        recap = events[-1]
        assert recap.status == "recap" and recap.data["hosts"]["n1"]["changed"] == 2
        assert "PLAY RECAP" in recap.stdout
        results = [(e.host, e.status) for e in events if e.event == "runner_on_ok"]
        assert results == [("n1", "changed"), ("n1", "ok"), ("n1", "changed")]
        later = queue.events_since(s, job_id, after_seq=events[-3].seq)
        assert [e.seq for e in later] == [events[-2].seq, events[-1].seq]
        run = s.get(JobRun, job.run_id)
        assert run.events_stored == len(events) and run.rc == 0
    pdd = jobenv.state / "jobs" / str(job.run_id)
    assert sorted(p.name for p in pdd.iterdir()) == ["artifacts"]  # env/ etc. removed
    art = pdd / "artifacts" / "run"
    assert "PLAY RECAP" in (art / "stdout").read_text()
    command = json.loads((art / "command").read_text())
    assert "env" not in command and "--limit" in command["command"]


def test_queued_to_started_and_timestamps(jobenv, worker):
    job_id = jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n2"])
    job = jobenv.wait(job_id)
    assert job.created_at <= job.started_at <= job.finished_at
    assert job.run.started_at == job.started_at


def test_a_failing_play_fails_the_job_with_the_reason(jobenv, worker):
    job_id = jobenv.submit(kind="remediation", playbook="fail.yml", nodes=["n1", "n2"])
    job = jobenv.wait(job_id)
    assert job.status == "failed"
    assert "A task that fails: failed: this node refuses" in job.error
    assert job.host_results["n1"]["failed"] == 1 and job.host_results["n2"]["failed"] == 1
    with jobenv.factory() as s:
        failed = [e for e in queue.events_since(s, job_id) if e.status == "failed"]
        assert {e.host for e in failed} == {"n1", "n2"}
        assert failed[0].data == {"msg": "this node refuses"}
    # retry by request: a new job with the same request
    with jobenv.factory() as s, s.begin():
        new = queue.retry(s, job_id, requested_by="ops", settings=jobenv.settings)
        new_id = new.id
    again = jobenv.wait(new_id)
    assert again.status == "failed" and again.retry_of == job_id and again.run_id != job.run_id


@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)
def test_cancel_a_running_job(jobenv, worker, wait_until):
    job_id = jobenv.submit(kind="remediation", playbook="sleep.yml", nodes=["n1"],
                           extravars={"sleep_s": 300})
    wait_until(lambda: (jobenv.out / "n1.sleep.pid").exists(), what="the play to start")
    with jobenv.factory() as s, s.begin():
        job = queue.cancel(s, job_id, requested_by="ops:bob")
        assert job.status == "running"  # asked; the worker stops it
    t0 = time.monotonic()
    job = jobenv.wait(job_id, timeout=60)
    assert job.status == "cancelled" and job.error == "cancelled by ops:bob"
    assert time.monotonic() - t0 < 30
    with jobenv.factory() as s:
        run = s.get(JobRun, job.run_id)
        assert run.status == "cancelled" and run.cancel_requested_by == "ops:bob"
        assert run.ansible_pid and not procs.is_running(run.ansible_pid, run.ansible_start)
    # the node is free again
    nxt = jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n1"])
    assert jobenv.wait(nxt).status == "succeeded"


def test_a_hung_job_times_out(make_jobenv):
    env = make_jobenv(timeouts={"remediation": 3})
    w = env.start_worker()
    try:
        job_id = env.submit(kind="remediation", playbook="sleep.yml", nodes=["n1"],
                            extravars={"sleep_s": 300})
        job = env.wait(job_id, timeout=90)
        assert job.status == "failed" and job.error == "timed out after 3 s"
        assert job.run.status == "timeout"
    finally:
        w.stop()


@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)
def test_queued_provisioning_for_a_busy_node_runs_once(jobenv, worker, wait_until):
    busy = jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n1"],
                         extravars={"oemhost_test_sleep": 4})
    wait_until(lambda: jobenv.log("n1"), what="the first run to start")
    changes = [jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n1"],
                             tenant_scope=[f"shop{i}"]) for i in range(10)]
    changes.append(jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n1"],
                                 tenant_scope=["shop3"]))
    for j in [busy, *changes]:
        assert jobenv.wait(j).status == "succeeded"
    with jobenv.factory() as s:
        run_ids = set(s.scalars(select(Job.run_id).where(Job.id.in_(changes))))
        assert len(run_ids) == 1
        run = s.get(JobRun, run_ids.pop())
        assert run.tenant_scope == sorted(f"shop{i}" for i in range(10))
        assert sorted(j.id for j in run.jobs) == changes
    scopes = [e[2] for e in jobenv.log("n1") if e[0] == "start"]
    assert scopes == ["ALL", ",".join(sorted(f"shop{i}" for i in range(10)))]


def test_a_whole_node_job_absorbs_queued_scoped_ones(jobenv, worker, wait_until):
    busy = jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n2"],
                         extravars={"oemhost_test_sleep": 3})
    wait_until(lambda: jobenv.log("n2"), what="the first run to start")
    a = jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n2"],
                      tenant_scope=["shop1"])
    b = jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n2"])
    for j in (busy, a, b):
        assert jobenv.wait(j).status == "succeeded"
    assert _job(jobenv, a).run_id == _job(jobenv, b).run_id
    assert [e[2] for e in jobenv.log("n2") if e[0] == "start"] == ["ALL", "ALL"]


def test_nodes_run_in_parallel_and_one_node_never_twice(jobenv, worker, wait_until):
    long_a = jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n1"],
                           extravars={"oemhost_test_sleep": 12})
    wait_until(lambda: jobenv.log("n1"), what="the long run on n1")
    b = jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n2"])
    c = jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n1"])
    assert jobenv.wait(b).status == "succeeded"
    # node B was served while node A's long job still ran
    assert _job(jobenv, long_a).status == "running"
    assert _job(jobenv, c).status == "queued"
    assert jobenv.wait(long_a).status == "succeeded"
    assert jobenv.wait(c).status == "succeeded"
    (a1, a2) = jobenv.intervals("n1")
    (b1,) = jobenv.intervals("n2")
    assert a1[1] <= a2[0]  # n1: one after the other
    assert a1[0] < b1[0] and b1[1] < a1[1]  # n2 inside n1's long run


def test_max_parallel_bounds_the_runs(make_jobenv):
    env = make_jobenv(max_parallel=2)
    w = env.start_worker()
    try:
        ids = [env.submit(kind="remediation", playbook="converge.yml", nodes=[n],
                          extravars={"oemhost_test_sleep": 3}) for n in ("n1", "n2", "n3")]
        for j in ids:
            assert env.wait(j).status == "succeeded"
        spans = sorted(env.intervals(n)[0][:2] for n in ("n1", "n2", "n3"))
        # at no moment were three runs inside their sleep at once
        assert not (spans[2][0] < spans[0][1] and spans[2][0] < spans[1][1])
    finally:
        w.stop()


@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)
def test_two_workers_share_the_queue_but_never_a_node(jobenv):
    w1, w2 = jobenv.start_worker(), jobenv.start_worker()
    try:
        ids = [jobenv.submit(kind="remediation", playbook="converge.yml", nodes=[n])
               for _ in range(4) for n in ("n1", "n2")]
        for j in ids:
            assert jobenv.wait(j, timeout=300).status == "succeeded"
        for n in ("n1", "n2"):
            spans = jobenv.intervals(n)
            assert len(spans) == 4
            for (_s1, e1, _), (s2, _e2, _) in zip(spans, spans[1:], strict=False):
                assert e1 <= s2, f"two runs overlapped on {n}"
        with jobenv.factory() as s:
            workers = set(s.scalars(select(JobRun.worker_id)))
            assert workers <= {w1.worker.id, w2.worker.id}
            assert s.scalar(select(JobEvent.id).limit(1)) is not None
    finally:
        w1.stop()
        w2.stop()


def test_follow_streams_progress_until_the_job_is_done(jobenv, worker):
    job_id = jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n3"],
                           extravars={"oemhost_test_sleep": 2})
    items = list(queue.follow(jobenv.factory, job_id, poll=0.1, timeout=120))
    kinds = [k for k, _ in items]
    assert kinds[-1] == "status" and kinds.count("status") == 1
    assert items[-1][1]["status"] == "succeeded"
    events = [d for k, d in items if k == "event"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["event"] == "playbook_on_play_start"
    assert events[-1]["status"] == "recap"
    # from the middle on: only what comes after
    rest = [d["seq"] for k, d in queue.follow(jobenv.factory, job_id, after_seq=3)
            if k == "event"]
    assert rest == list(range(4, len(events) + 1))
