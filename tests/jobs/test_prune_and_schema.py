"""Pruning by age, the migration matching the models, and the [jobs] settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from oemhost.db import Base, make_engine
from oemhost.db.models.jobs import Job, JobEvent, JobRun, utcnow
from oemhost.errors import OemhostError
from oemhost.jobs.config import JobsConfig
from oemhost.jobs.prune import prune

BACKENDS = ["sqlite", "postgresql"]  # see conftest.jobenv


@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)
def test_prune_drops_old_events_and_artifacts_then_old_records(jobenv):
    w = jobenv.start_worker()
    try:
        ids = [jobenv.submit(kind="remediation", playbook="converge.yml", nodes=[n])
               for n in ("n1", "n2")]
        jobs = [jobenv.wait(i) for i in ids]
    finally:
        w.stop()
    dirs = [jobenv.state / "jobs" / str(j.run_id) for j in jobs]
    assert all(d.is_dir() for d in dirs)
    with jobenv.factory() as s, s.begin():  # the first one is 20 days old
        run = s.get(JobRun, jobs[0].run_id)
        run.finished_at = utcnow() - timedelta(days=20)
        s.get(Job, jobs[0].id).finished_at = run.finished_at
    r = prune(jobenv.factory, jobenv.settings, jobenv.cfg)
    assert (r.runs_pruned, r.jobs_deleted) == (1, 0) and r.events_deleted > 0
    assert not dirs[0].exists() and dirs[1].is_dir()
    with jobenv.factory() as s:
        counts = dict(s.execute(select(JobEvent.run_id, func.count())
                                .group_by(JobEvent.run_id)).all())
        assert jobs[0].run_id not in counts and counts[jobs[1].run_id] > 0
        assert s.get(JobRun, jobs[0].run_id).artifacts_pruned
    assert prune(jobenv.factory, jobenv.settings, jobenv.cfg).runs_pruned == 0
    later = prune(jobenv.factory, jobenv.settings, jobenv.cfg,
                  now=utcnow() + timedelta(days=500))
    assert (later.jobs_deleted, later.runs_deleted) == (2, 2)
    with jobenv.factory() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)
def test_the_migration_creates_exactly_the_models(jobenv):
    engine = make_engine(jobenv.settings.database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    ours = [d for d in diff if "job" in repr(d)]
    assert ours == []


class _S:
    def __init__(self, raw):
        self.raw = raw

    def section(self, name):
        return self.raw.get(name, {})


@pytest.mark.parametrize("raw, message", [
    ({"max_parallel": 0}, "max_parallel: must be a positive integer"),
    ({"max_parallel": 1.5}, "max_parallel: must be a positive integer"),
    ({"poll_interval": "fast"}, "poll_interval: must be a positive number"),
    ({"timeouts": {"nosuchkind": 5}}, "timeouts: a table of kind = seconds"),
    ({"vault_password_file": "/nonexistent/pw"}, "vault_password_file: /nonexistent/pw"),
    ({"heartbeat_interval": 10, "stale_after": 20}, "stale_after must be at least 4"),
    ({"bogus": 1}, "unknown setting(s) bogus"),
])
def test_bad_settings_are_one_clear_error(raw, message):
    with pytest.raises(OemhostError, match=None) as err:
        JobsConfig.from_settings(_S({"jobs": raw}))
    assert message in str(err.value)


def test_settings_defaults_and_timeouts_per_kind():
    cfg = JobsConfig.from_settings(_S({"jobs": {"timeouts": {"usage": 600},
                                                "coalesce_settle": 0.2}}))
    assert cfg.max_parallel == 4 and cfg.coalesce_settle == 0.2
    assert cfg.timeout_for("usage") == 600 and cfg.timeout_for("provision") == 3600
