"""Usage and drift scheduling in a real APScheduler 3, submitting real jobs."""

from __future__ import annotations

from dataclasses import replace

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from oemhost import jobs
from oemhost.db import session_scope
from oemhost.drift import schedule as drift_schedule
from oemhost.jobs.worker import SCHEDULE_MODULES
from oemhost.usage import schedule


def test_worker_hosts_usage_and_drift():
    assert {"oemhost.usage.schedule", "oemhost.drift.schedule"} <= set(SCHEDULE_MODULES)


def test_register_is_stable_and_configurable(settings):
    sched = BackgroundScheduler(timezone="UTC")
    s = replace(settings, raw={"usage": {"interval": 300}, "drift": {"interval": 3600}})
    assert schedule.register(sched, s) == [schedule.COLLECT_JOB, schedule.PRUNE_JOB]
    schedule.register(sched, s)  # a restart replaces, never duplicates
    drift_schedule.register(sched, s)
    got = {j.id: j for j in sched.get_jobs()}
    assert set(got) == {schedule.COLLECT_JOB, schedule.PRUNE_JOB, drift_schedule.CHECK_JOB}
    assert got[schedule.COLLECT_JOB].func_ref == "oemhost.usage.schedule:run_collect"
    assert got[schedule.COLLECT_JOB].trigger.interval.total_seconds() == 300
    assert got[drift_schedule.CHECK_JOB].trigger.interval.total_seconds() == 3600
    for job in got.values():
        assert job.max_instances == 1 and job.coalesce is True and job.misfire_grace_time >= 60
    sched = BackgroundScheduler(timezone="UTC")
    schedule.register(sched, settings)
    assert sched.get_job(schedule.COLLECT_JOB).trigger.interval.total_seconds() == 600


def test_periodic_submission_is_low_priority_and_never_piles_up(settings, factory):
    with session_scope(factory) as s:
        ids = schedule.submit_periodic(s, settings, kind="usage", playbook="collect_usage.yml",
                                       requested_by="scheduler:usage", reason="test")
    assert len(ids) == 2
    with session_scope(factory) as s:
        # the previous ones have not run yet: nothing new
        assert schedule.submit_periodic(s, settings, kind="usage",
                                        playbook="collect_usage.yml",
                                        requested_by="scheduler:usage", reason="test") == []
        got = s.scalars(select(jobs.Job).order_by(jobs.Job.id)).all()
        assert [j.nodes for j in got] == [["node1"], ["node2"]]
        assert all(j.kind == "usage" and j.priority == 10 for j in got)
        jobs.cancel(s, got[0].id, requested_by="test")
    with session_scope(factory) as s:
        again = schedule.submit_periodic(s, settings, kind="usage",
                                         playbook="collect_usage.yml",
                                         requested_by="scheduler:usage", reason="test")
        assert [jobs.get_job(s, i).nodes for i in again] == [["node1"]]
