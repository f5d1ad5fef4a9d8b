"""oemhost.backup: states from the nodes' reports, storage, incidents, the schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from oemhost.backup import collect
from oemhost.backup.config import BackupConfig
from oemhost.backup.queries import node_statuses, recent_runs
from oemhost.backup.schedule import submit_collection
from oemhost.config import PROJECT_DIR, Settings
from oemhost.db import make_engine, migrate, session_factory
from oemhost.db.models.backup import BackupNodeStatus, BackupRun
from oemhost.db.models.monitor import MonitorIncident
from oemhost.errors import OemhostError
from oemhost.jobs.results import RunInfo, deliver

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=26)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def report(node="node1", *, configured=True, result="ok", finished=NOW - timedelta(hours=1),
           last_success=None, error=None, snapshot="93d8d07b"):
    last_success = finished if last_success is None and result == "ok" else last_success
    return {"node": node, "configured": configured, "running": False, "status": {
        "result": result, "started_at": iso(finished - timedelta(minutes=1)),
        "finished_at": iso(finished),
        "last_success_at": iso(last_success) if last_success else None,
        "snapshot_id": snapshot if result == "ok" else None,
        "last_snapshot_id": snapshot, "size_bytes": 1234, "added_bytes": 12, "files": 3,
        "tenants": 2, "databases": 1, "duration_s": 3.5, "error": error,
        "repository": "sftp:backup@store1:/srv/restic/node1"}}


@pytest.fixture
def settings(tmp_path):
    inv = tmp_path / "inventory"
    (inv / "state" / "nodes").mkdir(parents=True)
    for n in ("node1", "node2"):
        (inv / "state" / "nodes" / f"{n}.yml").write_text(f"---\nname: {n}\n")
    url = f"sqlite:///{tmp_path / 'state' / 'oemhost.db'}"
    migrate(url)
    s = Settings(project_dir=PROJECT_DIR, inventory_dir=inv, state_dir=tmp_path / "state",
                 database_url=url)
    yield s
    from oemhost.monitor.db import dispose

    dispose()


@pytest.fixture
def factory(settings):
    engine = make_engine(settings.database_url)
    yield session_factory(engine)
    engine.dispose()


def incidents(factory, status=None):
    with factory() as s:
        q = select(MonitorIncident).where(MonitorIncident.service == "backup")
        rows = list(s.scalars(q))
        return [r for r in rows if status is None or r.status == status]


@pytest.mark.parametrize(("kwargs", "state"), [
    ({"configured": False, "result": "ok"}, "unconfigured"),
    ({"result": "failed", "error": "boom"}, "failed"),
    ({"result": "unknown"}, "unknown"),
    ({"result": "ok", "last_success_at": NOW - timedelta(hours=3)}, "ok"),
    ({"result": "ok", "last_success_at": NOW - timedelta(hours=27)}, "stale"),
    ({"result": "never"}, "never"),
    ({"result": "never", "configured_since": NOW - timedelta(hours=30)}, "stale"),
    ({"result": "never", "configured_since": NOW - timedelta(hours=2)}, "never"),
])
def test_evaluate(kwargs, state):
    args = {"configured": True, "result": "ok", "last_success_at": None,
            "configured_since": None, "error": None, "now": NOW, "stale_after": DAY,
            "node": "node1"} | kwargs
    verdict = collect.evaluate(**args)
    assert verdict.state == state
    assert verdict.message.startswith("node1: ")
    if state == "failed":
        assert "boom" in verdict.message


@pytest.mark.parametrize("data", [
    [], {"node": "node2", "configured": True, "status": {}},
    {"node": "node1", "configured": "yes", "status": {}},
    {"node": "node1", "configured": True, "status": "ok"},
])
def test_parse_report_refuses_malformed(data):
    with pytest.raises(ValueError):
        collect.parse_report(data, "node1")


def test_parse_report_keeps_only_checked_values():
    data = report()
    data["status"].update(snapshot_id="../x", size_bytes=True, error="a\nb", finished_at="x")
    out = collect.parse_report(data, "node1")
    assert out["snapshot_id"] is None and out["size_bytes"] is None
    assert out["error"] == "a b" and out["finished_at"] is None


def test_failed_backup_opens_one_incident_and_a_good_one_resolves_it(settings, factory):
    cfg = BackupConfig()
    with factory() as s, s.begin():
        row = collect.record(s, "node1", collect.parse_report(report(), "node1"), now=NOW,
                             cfg=cfg, settings=settings)
        assert row.state == "ok" and row.incident_id is None
    assert incidents(factory) == []
    failed = report(result="failed", error="repository unreachable: ssh: no route",
                    finished=NOW, last_success=NOW - timedelta(hours=1))
    for minutes in (0, 30):  # the same failure seen twice: one incident, one event
        with factory() as s, s.begin():
            row = collect.record(s, "node1", collect.parse_report(failed, "node1"),
                                 now=NOW + timedelta(minutes=minutes), cfg=cfg,
                                 settings=settings)
            assert row.state == "failed" and row.incident_id is not None
    (inc,) = incidents(factory, "open")
    assert "unreachable" in inc.summary and inc.node == "node1"
    with factory() as s:
        inc = s.get(MonitorIncident, inc.id)
        assert [e.kind for e in inc.events] == ["detected"]
        runs = recent_runs(s, "node1")
        assert [r.result for r in runs] == ["failed", "ok"]
    with factory() as s, s.begin():
        good = report(finished=NOW + timedelta(hours=1))
        row = collect.record(s, "node1", collect.parse_report(good, "node1"),
                             now=NOW + timedelta(hours=1), cfg=cfg, settings=settings)
        assert row.state == "ok" and row.incident_id is None
    assert incidents(factory, "open") == []
    assert [i.status for i in incidents(factory)] == ["recovered"]
    with factory() as s:
        assert node_statuses(s)["node1"]["state"] == "ok"


def test_a_good_backup_goes_stale_when_time_passes(settings, factory):
    cfg = BackupConfig(stale_after_hours=26)
    with factory() as s, s.begin():
        collect.record(s, "node1", collect.parse_report(report(), "node1"), now=NOW, cfg=cfg,
                       settings=settings)
    assert collect.refresh(settings, now=NOW + timedelta(hours=20)) == 1
    assert incidents(factory) == []
    collect.refresh(settings, now=NOW + timedelta(hours=30))
    collect.refresh(settings, now=NOW + timedelta(hours=31))
    (inc,) = incidents(factory, "open")
    assert "no successful backup for" in inc.summary
    with factory() as s:
        assert s.get(BackupNodeStatus, "node1").state == "stale"
        assert len(s.get(MonitorIncident, inc.id).events) == 1


def test_unconfigured_node_is_shown_but_raises_nothing(settings, factory):
    with factory() as s, s.begin():
        row = collect.record(s, "node2", collect.parse_report(
            report("node2", configured=False, result="never"), "node2"), now=NOW,
            cfg=BackupConfig(), settings=settings)
        assert row.state == "unconfigured"
    assert incidents(factory) == []


def test_result_handler_stores_good_files_and_ignores_bad_ones(settings, factory, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "backup--node1.json").write_text(json.dumps(report(result="failed",
                                                                  error="disk full")))
    (results / "backup--node2.json").write_text(json.dumps(report("node1")))  # lies
    (results / "backup--node3.json").write_text(json.dumps(report("node3")))  # not in run
    (results / "backup--BAD.json").write_text("{}")
    run = RunInfo(run_id=1, kind="backup", playbook="collect_backup_status.yml",
                  nodes=["node1", "node2"], status="succeeded")
    assert deliver(settings, run, results) == {"backup": 4}
    with factory() as s:
        rows = {r.node: r for r in s.scalars(select(BackupNodeStatus))}
        assert set(rows) == {"node1"} and rows["node1"].state == "failed"
        assert rows["node1"].error == "disk full"
        assert s.scalar(select(BackupRun.result)) == "failed"
    assert len(incidents(factory, "open")) == 1


def test_incidents_can_be_turned_off(settings, factory):
    with factory() as s, s.begin():
        row = collect.record(s, "node1", collect.parse_report(
            report(result="failed", error="x"), "node1"), now=NOW,
            cfg=BackupConfig(incidents=False), settings=settings)
        assert row.state == "failed"
    assert incidents(factory) == []


@pytest.mark.parametrize("raw", [{"collect_interval": 0}, {"stale_after_hours": "1"},
                                 {"incidents": "yes"}, {"nope": 1}])
def test_config_errors(settings, raw):
    bad = Settings(project_dir=settings.project_dir, inventory_dir=settings.inventory_dir,
                   state_dir=settings.state_dir, database_url=settings.database_url,
                   raw={"backup": raw})
    with pytest.raises(OemhostError, match=r"\[backup\]"):
        BackupConfig.from_settings(bad)


def test_collection_is_one_low_priority_job_for_all_nodes_never_doubled(settings, factory):
    from oemhost.db.models.jobs import Job

    with factory() as s:
        first = submit_collection(settings, s)
        s.commit()
        assert submit_collection(settings, s) is None  # the first is still queued
        job = s.get(Job, first)
        assert job.kind == "backup" and job.playbook == "collect_backup_status.yml"
        assert job.priority < 50
        assert sorted(job.nodes) == ["node1", "node2"]


def test_schedule_registers_one_job():
    from apscheduler.schedulers.background import BackgroundScheduler

    from oemhost.backup import schedule
    from oemhost.jobs.worker import SCHEDULE_MODULES

    assert "oemhost.backup.schedule" in SCHEDULE_MODULES
    sched = BackgroundScheduler(timezone="UTC")
    s = Settings(project_dir=PROJECT_DIR, inventory_dir=PROJECT_DIR, state_dir=PROJECT_DIR,
                 database_url="sqlite://", raw={"backup": {"collect_interval": 600}})
    assert schedule.register(sched, s) == [schedule.COLLECT_JOB]
    job = sched.get_job(schedule.COLLECT_JOB)
    assert job.trigger.interval == timedelta(seconds=600)
    off = Settings(project_dir=PROJECT_DIR, inventory_dir=PROJECT_DIR, state_dir=PROJECT_DIR,
                   database_url="sqlite://", raw={"backup": {"enabled": False}})
    assert schedule.register(BackgroundScheduler(timezone="UTC"), off) == []
