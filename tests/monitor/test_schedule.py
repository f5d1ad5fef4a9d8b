"""Registration in a real APScheduler 3 scheduler (as the worker does)."""

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from oemhost.monitor.schedule import FOLLOWUP_JOB, MAIL_RATE_JOB, SWEEP_JOB, register


def test_register_adds_safe_jobs(env):
    env.monitor = {"misfire_grace_time": 120, "followup_interval": 20,
                   "mail_rate_interval": 900, "protocols": {"https": {"interval": 300}}}
    settings = env.settings()
    sched = BackgroundScheduler(timezone="UTC")
    assert register(sched, settings) == [SWEEP_JOB, FOLLOWUP_JOB, MAIL_RATE_JOB]
    register(sched, settings)   # the worker restarts: replaced, not duplicated
    jobs = {j.id: j for j in sched.get_jobs()}
    assert set(jobs) == {SWEEP_JOB, FOLLOWUP_JOB, MAIL_RATE_JOB}
    sweep, follow, rate = jobs[SWEEP_JOB], jobs[FOLLOWUP_JOB], jobs[MAIL_RATE_JOB]
    assert sweep.func_ref == "oemhost.monitor.schedule:run_sweep"
    assert follow.func_ref == "oemhost.monitor.schedule:run_followup"
    assert rate.func_ref == "oemhost.monitor.schedule:run_mail_rate"
    assert rate.trigger.interval.total_seconds() == 900
    for job in (sweep, follow, rate):
        assert job.max_instances == 1 and job.coalesce is True
        assert job.misfire_grace_time == 120
        assert isinstance(job.trigger, IntervalTrigger)
    assert sweep.trigger.interval.total_seconds() == 300   # the shortest check interval
    assert follow.trigger.interval.total_seconds() == 20


def test_default_sweep_is_every_ten_minutes(env):
    sched = BackgroundScheduler(timezone="UTC")
    register(sched, env.settings())
    assert sched.get_job(SWEEP_JOB).trigger.interval.total_seconds() == 600


def test_mail_rate_watch_can_be_switched_off(env):
    sched = BackgroundScheduler(timezone="UTC")
    register(sched, env.settings())
    assert sched.get_job(MAIL_RATE_JOB) is not None
    env.monitor = {"mail_rate_interval": 0}
    assert MAIL_RATE_JOB not in register(sched, env.settings())
    assert sched.get_job(MAIL_RATE_JOB) is None
