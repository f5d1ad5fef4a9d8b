"""The provider sees each node's backup status and can start a backup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from oemhost.backup import collect
from oemhost.backup.config import BackupConfig
from oemhost.db import make_engine, session_factory
from oemhost.db.models.jobs import Job


def _report(result, error=None):
    now = datetime.now(UTC) - timedelta(minutes=5)
    t = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"node": "node1", "configured": True, "running": False, "status": {
        "result": result, "started_at": t, "finished_at": t,
        "last_success_at": t if result == "ok" else None,
        "snapshot_id": "93d8d07bab" if result == "ok" else None, "size_bytes": 5_000_000,
        "added_bytes": 1000, "error": error, "repository": "sftp:backup@store1:/srv/r1"}}


def _store(settings, result, error=None):
    engine = make_engine(settings.database_url)
    with session_factory(engine)() as s, s.begin():
        collect.record(s, "node1", collect.parse_report(_report(result, error), "node1"),
                       now=datetime.now(UTC), cfg=BackupConfig(incidents=False))
    engine.dispose()


def test_nodes_and_node_page_show_the_backup_state(app, as_, settings):
    ops = as_("provider")
    page = ops.get("/provider/nodes").get_data(as_text=True)
    assert "no report yet" in page
    _store(settings, "failed", "repository unreachable: ssh: connect to host store1")
    page = ops.get("/provider/nodes/node1").get_data(as_text=True)
    assert "repository unreachable: ssh: connect to host store1" in page
    assert "sftp:backup@store1:/srv/r1" in page
    _store(settings, "ok")
    page = ops.get("/provider/nodes/node1").get_data(as_text=True)
    assert "93d8d07b" in page and "5.0 MB" in page
    assert "repository unreachable" not in page


def test_back_up_now_queues_a_backup_job_for_the_provider_only(app, as_, settings):
    (settings.project_dir / "playbooks" / "backup_now.yml").write_text(
        "---\n- hosts: all\n  tasks: []\n")
    assert as_("reseller_a").post("/provider/nodes/node1/backup",
                                  page="/r/acme/").status_code in (302, 403)
    resp = as_("provider").post("/provider/nodes/node1/backup", page="/provider/nodes/node1")
    assert resp.status_code == 302
    engine = make_engine(settings.database_url)
    with session_factory(engine)() as s:
        jobs = list(s.scalars(select(Job).where(Job.playbook == "backup_now.yml")))
    engine.dispose()
    assert [(j.kind, j.requested_by.startswith("ops")) for j in jobs] == [("backup", True)]
