"""library/oemhost_backup_status.py: the status file read, normalised, never changed."""

from __future__ import annotations

import json
import os

from modload import load as load_module

mod = load_module("oemhost_backup_status")

GOOD = {"result": "ok", "started_at": "2026-11-24T03:00:00Z",
        "finished_at": "2026-11-24T03:01:00Z", "snapshot_id": "93d8d07b",
        "last_snapshot_id": "93d8d07b", "last_success_at": "2026-11-24T03:01:00Z",
        "size_bytes": 1002027, "added_bytes": 10, "files": 3, "tenants": 1, "databases": 1,
        "error": None, "repository": "/var/backups/r", "duration_s": 3.4}


def test_a_good_status_comes_back_field_for_field():
    out = mod.normalise(dict(GOOD, extra="dropped"))
    assert out == GOOD


def test_malformed_fields_are_dropped_not_trusted():
    out = mod.normalise({"result": "ok", "snapshot_id": "../../x", "size_bytes": -1,
                         "files": True, "finished_at": "yesterday", "duration_s": "3",
                         "error": "line1\nline2\x1b[31m"})
    assert out["result"] == "ok"
    assert out["snapshot_id"] is None and out["size_bytes"] is None and out["files"] is None
    assert out["finished_at"] is None and out["duration_s"] is None
    assert "\n" not in out["error"] and "\x1b" not in out["error"]


def test_unknown_result_and_non_object():
    assert mod.normalise({"result": "maybe"})["result"] == "unknown"
    assert "maybe" in mod.normalise({"result": "maybe"})["error"]
    assert mod.normalise(["x"])["result"] == "unknown"


def test_missing_and_unreadable_files(tmp_path):
    assert mod.read_status(str(tmp_path / "none.json"))["result"] == "never"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = mod.read_status(str(bad))
    assert out["result"] == "unknown" and "cannot read" in out["error"]


def test_module_run_is_read_only_in_check_mode(run_module, tmp_path):
    status = tmp_path / "status.json"
    status.write_text(json.dumps(GOOD))
    config = tmp_path / "config.json"
    before = status.stat().st_mtime_ns
    for check in (True, False):
        res = run_module("oemhost_backup_status", {
            "status_file": str(status), "config_file": str(config),
            "unit": "oemhost-backup-test-none.service"}, check=check)
        assert res["changed"] is False and res["configured"] is False
        assert res["status"]["snapshot_id"] == "93d8d07b"
    config.write_text("{}")
    res = run_module("oemhost_backup_status", {"status_file": str(status),
                                               "config_file": str(config)}, check=True)
    assert res["configured"] is True and res["running"] is False
    assert status.stat().st_mtime_ns == before
    assert sorted(os.listdir(tmp_path)) == ["config.json", "oemhost_backup_status-args.json",
                                            "status.json"]
