"""Which queued jobs start, in which order, merged into which runs (no ansible here)."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import select

from oemhost.db.models.jobs import Job, JobNodeLock, JobRun, JobWorker, utcnow
from oemhost.jobs.claim import claim, merged_scope, plan
from oemhost.jobs.config import DEFAULT_PRIORITY, JobsConfig

CFG = JobsConfig(coalesce_settle=0.4, coalesce_max_delay=0.9)
NOW = utcnow()
_ids = count(1)

BACKENDS = ["sqlite", "postgresql"]  # see conftest.jobenv


def job(kind="provision", nodes=("n1",), scope=None, age=10.0, playbook="converge.yml",
        tags=(), extravars=None):
    t = NOW - timedelta(seconds=age)
    return Job(id=next(_ids), kind=kind, playbook=playbook, nodes=list(nodes),
               tenant_scope=list(scope) if scope is not None else None, tags=list(tags),
               extravars=extravars or {}, priority=DEFAULT_PRIORITY[kind], created_at=t,
               queued_at=t, status="queued")


def ordered(jobs):
    return sorted(jobs, key=lambda j: (-j.priority, j.queued_at, j.id))


def ids(groups):
    return [[j.id for j in g] for g in groups]


def test_provisioning_jobs_of_one_node_merge_into_one_run():
    a, b, c = job(scope=["shop1"], age=3), job(scope=["shop2"], age=2), job(scope=["shop1"],
                                                                          age=1)
    d = job(nodes=["n2"], scope=["shop9"], age=1)
    groups = plan(ordered([a, b, c, d]), set(), NOW, CFG, 4)
    assert ids(groups) == [[a.id, b.id, c.id], [d.id]]
    assert merged_scope(groups[0]) == ["shop1", "shop2"]


def test_a_whole_node_job_absorbs_scoped_ones():
    a, b = job(scope=["shop1"], age=3), job(scope=None, age=2)
    groups = plan(ordered([a, b]), set(), NOW, CFG, 4)
    assert ids(groups) == [[a.id, b.id]] and merged_scope(groups[0]) is None


def test_busy_nodes_wait_and_keep_their_order():
    a = job(kind="remediation", nodes=["n1", "n2"], age=5)
    b = job(kind="remediation", nodes=["n2"], age=4)
    c = job(kind="remediation", nodes=["n3"], age=3)
    # n1 busy: a waits, and b (same node n2, queued later) must not overtake a
    assert ids(plan(ordered([a, b, c]), {"n1"}, NOW, CFG, 4)) == [[c.id]]
    assert ids(plan(ordered([a, b, c]), set(), NOW, CFG, 4)) == [[a.id], [c.id]]


def test_priority_first_and_capacity_bounds_the_runs():
    usage = job(kind="usage", nodes=["n1"], age=60)
    fix = job(kind="remediation", nodes=["n1"], age=1)
    other = [job(kind="remediation", nodes=[f"x{i}"], age=5) for i in range(5)]
    groups = plan(ordered([usage, fix, *other]), set(), NOW, CFG, 3)
    assert len(groups) == 3
    assert groups[0][0].kind == "remediation" and usage.id not in sum(ids(groups), [])
    assert ids(plan(ordered([usage, fix]), set(), NOW, CFG, 4)) == [[fix.id]]


def test_merging_stops_at_a_job_that_cannot_merge():
    a = job(scope=["shop1"], age=5)
    b = job(kind="remove", scope=["shop2"], age=4)  # same priority, other playbook run
    c = job(scope=["shop3"], age=3)
    assert ids(plan(ordered([a, b, c]), set(), NOW, CFG, 4)) == [[a.id]]
    d = job(scope=["shop4"], age=3, tags=["mail"])
    e = job(scope=["shop5"], age=3, extravars={"x": "y"})
    f = job(scope=["shop6"], nodes=["n1", "n2"], age=3)
    assert ids(plan(ordered([a, d, e, f]), set(), NOW, CFG, 4)) == [[a.id]]


def test_a_fresh_burst_settles_first_but_not_for_long():
    fresh = [job(scope=[f"shop{i}"], age=0.1 * i) for i in range(1, 4)]
    assert plan(ordered(fresh), set(), NOW, CFG, 4) == []  # still coming in
    quiet = [job(scope=["shop1"], age=0.5)]
    assert len(plan(quiet, set(), NOW, CFG, 4)) == 1  # nothing new for settle
    long_burst = [job(scope=[f"shop{i}"], age=1.0 - 0.1 * i) for i in range(10)]
    assert ids(plan(ordered(long_burst), set(), NOW, CFG, 4)) == [[j.id for j in
                                                                  ordered(long_burst)]]
    fix = [job(kind="remediation", age=0.0)]
    assert len(plan(fix, set(), NOW, CFG, 4)) == 1  # only provisioning waits


def test_a_lone_change_for_a_free_node_starts_at_once():
    lone = job(scope=["shop1"], age=0.0)
    assert ids(plan([lone], set(), NOW, CFG, 4)) == [[lone.id]]
    # the node's last run ended before the change came: still free when it came
    assert ids(plan([lone], set(), NOW, CFG, 4, {"n1": NOW - timedelta(seconds=0.5)})) == [
        [lone.id]]
    assert plan([lone], {"n1"}, NOW, CFG, 4) == []  # busy node: it waits


def test_changes_that_queued_behind_a_run_settle_from_when_the_node_became_free():
    behind = [job(scope=[f"shop{i}"], age=2.0 - 0.1 * i) for i in range(5)]  # newest 1.6 s
    just_freed = {"n1": NOW - timedelta(seconds=0.2)}
    # nothing new for coalesce_settle: they start, although the node was freed just now
    assert ids(plan(ordered(behind), set(), NOW, CFG, 4, just_freed)) == [
        [j.id for j in ordered(behind)]]
    still_coming = [*behind, job(scope=["shop9"], age=0.1)]
    assert plan(ordered(still_coming), set(), NOW, CFG, 4, just_freed) == []
    # at the latest coalesce_max_delay after the node became free
    long_freed = {"n1": NOW - timedelta(seconds=1.0)}
    assert len(plan(ordered(still_coming), set(), NOW, CFG, 4, long_freed)) == 1
    # a lone change that waited behind a run settles as well (more may be on the way)
    waited = job(scope=["shop1"], age=0.3)
    assert plan([waited], set(), NOW, CFG, 4, {"n1": NOW - timedelta(seconds=0.1)}) == []
    assert len(plan([waited], set(), NOW, CFG, 4, long_freed)) == 1


def _queue(env, n, **kw):
    return [env.submit(kind="provision", playbook="converge.yml", **kw) for _ in range(n)]


@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)
def test_claim_locks_nodes_and_two_workers_never_share_them(jobenv):
    with jobenv.factory() as s, s.begin():
        for w in ("w1", "w2"):
            s.add(JobWorker(id=w, hostname="h", pid=1))
    jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n1", "n2"])
    jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n2"])
    jobenv.submit(kind="remediation", playbook="converge.yml", nodes=["n3"])
    first = claim(jobenv.factory, "w1", jobenv.cfg, jobenv.settings, 1)
    second = claim(jobenv.factory, "w2", jobenv.cfg, jobenv.settings, 4)
    third = claim(jobenv.factory, "w1", jobenv.cfg, jobenv.settings, 4)
    assert [c.job_ids for c in first] == [[1]]
    assert [c.job_ids for c in second] == [[3]]  # job 2 waits for n2
    assert third == []
    with jobenv.factory() as s:
        locks = dict(s.execute(select(JobNodeLock.node, JobNodeLock.worker_id)).all())
        assert locks == {"n1": "w1", "n2": "w1", "n3": "w2"}
        run = s.get(JobRun, first[0].run_id)
        assert run.status == "running" and run.nodes == ["n1", "n2"]
        assert run.private_data_dir == str(jobenv.state / "jobs" / str(run.id))


@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)
def test_claim_merges_queued_provisioning(jobenv):
    with jobenv.factory() as s, s.begin():
        s.add(JobWorker(id="w1", hostname="h", pid=1))
    for t in ("shop1", "shop2", "shop3"):
        jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n1"], tenant_scope=[t])
    assert claim(jobenv.factory, "w1", jobenv.cfg, jobenv.settings, 4) == []  # settling
    import time

    time.sleep(jobenv.cfg.coalesce_settle + 0.1)
    (c,) = claim(jobenv.factory, "w1", jobenv.cfg, jobenv.settings, 4)
    assert c.job_ids == [1, 2, 3]
    with jobenv.factory() as s:
        run = s.get(JobRun, c.run_id)
        assert run.tenant_scope == ["shop1", "shop2", "shop3"]
        assert [j.id for j in run.jobs] == [1, 2, 3]
        assert {j.status for j in run.jobs} == {"running"}
