"""Drift: a real worker runs a real check-mode ansible-playbook on a local "node"; the
callback's report is stored with its diff (never a no_log task's), nothing changes on the
node, and a converge submitted from the report clears the drift."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from oemhost.config import load_settings
from oemhost.db import session_scope
from oemhost.drift import converge, latest_reports, node_reports
from oemhost.drift.report import build_report, prune
from oemhost.jobs.config import JobsConfig
from oemhost.jobs.queue import submit, wait
from oemhost.jobs.runner import PLUGINS_DIR
from oemhost.jobs.worker import Worker, open_database

SITE = """\
- name: Converge the node
  hosts: all
  gather_facts: false
  tasks:
    - name: The vhost file
      ansible.builtin.copy:
        content: "<VirtualHost *:80>\\n  ServerName shop1.example\\n</VirtualHost>\\n"
        dest: "{{ drift_dir }}/shop1.conf"
        mode: "0644"
    - name: A file with a secret
      ansible.builtin.copy:
        content: "password=SECRETVALUE\\n"
        dest: "{{ drift_dir }}/secret.conf"
        mode: "0600"
      no_log: true
"""


@pytest.fixture
def env(tmp_path):
    project = tmp_path / "project"
    (project / "playbooks").mkdir(parents=True)
    (project / "playbooks" / "site.yml").write_text(SITE)
    (project / "ansible.cfg").write_text(
        "[defaults]\nhost_key_checking = False\nretry_files_enabled = False\n"
        "gathering = explicit\nstdout_callback = default\n"
        "[inventory]\nenable_plugins = yaml\nignore_patterns = ^state$\n")
    inv = tmp_path / "inventory"
    (inv / "state" / "nodes").mkdir(parents=True)
    (inv / "state" / "nodes" / "node1.yml").write_text("name: node1\naddress: 127.0.0.1\n")
    node_dir = tmp_path / "node1"
    node_dir.mkdir()
    (inv / "hosts.yml").write_text(json.dumps({"all": {"hosts": {"node1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "drift_dir": str(node_dir)}}}}))
    cfg = tmp_path / "oemhost.toml"
    cfg.write_text("[jobs]\npoll_interval = 0.1\nheartbeat_interval = 0.5\n")
    settings = load_settings({
        "OEMHOST_CONFIG": str(cfg), "OEMHOST_PROJECT_DIR": str(project),
        "OEMHOST_INVENTORY": str(inv), "OEMHOST_STATE_DIR": str(tmp_path / "state"),
        "PATH": os.environ["PATH"]})
    factory = open_database(settings)
    worker = Worker(settings, JobsConfig.from_settings(settings), factory=factory,
                    scheduler=False)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield settings, factory, node_dir
    worker.interrupt_now()
    thread.join(timeout=60)
    factory.kw["bind"].dispose()


def _run(factory, settings, **kw) -> None:
    with session_scope(factory) as s:
        job_id = submit(s, settings=settings, requested_by="test", **kw).id
    with factory() as s:
        job = wait(s, job_id, timeout=120)
        assert job.status == "succeeded", job.error


def test_drift_is_recorded_and_cleared_by_a_converge(env):
    settings, factory, node_dir = env
    _run(factory, settings, kind="provision", playbook="site.yml", nodes=["node1"])
    vhost = node_dir / "shop1.conf"
    # clean right after a converge
    _run(factory, settings, kind="drift", playbook="site.yml", nodes=["node1"])
    with factory() as s:
        assert latest_reports(s)["node1"].status == "clean"
    # a hand edit on the node, and the secret file changed too
    vhost.write_text(vhost.read_text().replace("shop1.example", "evil.example"))
    (node_dir / "secret.conf").write_text("password=OLDSECRET\n")
    _run(factory, settings, kind="drift", playbook="site.yml", nodes=["node1"])
    assert "evil.example" in vhost.read_text()  # check mode changed nothing
    with factory() as s:
        report = latest_reports(s)["node1"]
        assert report.status == "drift" and report.changed == 2
        by_task = {t["task"]: t for t in report.tasks}
        diff = by_task["The vhost file"]["diff"]
        assert "-  ServerName evil.example" in diff and "+  ServerName shop1.example" in diff
        assert by_task["A file with a secret"] == {
            "play": "Converge the node", "role": "", "task": "A file with a secret",
            "action": "ansible.builtin.copy", "hidden": True, "diff": None}
        assert "SECRET" not in json.dumps(report.tasks)
        job = converge(s, "node1", requested_by="ops:test", settings=settings)
        assert job.kind == "provision" and job.nodes == ["node1"]
        s.commit()
        assert wait(s, job.id, timeout=120).status == "succeeded"
    assert "shop1.example" in vhost.read_text()
    _run(factory, settings, kind="drift", playbook="site.yml", nodes=["node1"])
    with factory() as s:
        assert latest_reports(s)["node1"].status == "clean"
        assert [r.status for r in node_reports(s, "node1")] == ["clean", "drift", "clean"]
    # the job engine's stored output never holds the secret either
    stdout = "".join(p.read_text() for p in (settings.state_dir / "jobs").rglob("stdout"))
    assert "ok=2" in stdout and "SECRET" not in stdout


def test_callback_is_silent_outside_check_runs(tmp_path):
    """Ops running the playbook by hand (no results dir), or a normal converge: no file."""
    pb = tmp_path / "pb.yml"
    pb.write_text(SITE)
    env = dict(os.environ, ANSIBLE_CALLBACK_PLUGINS=str(PLUGINS_DIR / "callback"),
               OEMHOST_RESULTS_DIR=str(tmp_path / "res"))
    (tmp_path / "res").mkdir()
    base = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "node1,", "-c",
            "local", "-e", json.dumps({"drift_dir": str(tmp_path),
                                       "ansible_python_interpreter": sys.executable}), str(pb)]
    subprocess.run(base, env=env, check=True, capture_output=True, timeout=120)
    assert list((tmp_path / "res").iterdir()) == []
    subprocess.run([*base, "--check", "--diff"], env=env, check=True, capture_output=True,
                   timeout=120)
    assert [p.name for p in (tmp_path / "res").iterdir()] == ["drift--node1.json"]


def test_reports_from_bad_or_missing_files(env):
    from datetime import UTC, datetime

    _settings, factory, _ = env
    at = datetime.now(UTC)
    missing = build_report("node1", None, 7, "failed", at)
    assert missing.status == "failed" and "without a report" in missing.error
    unreachable = build_report("node1", {"unreachable": True, "errors": ["unreachable: x"],
                                         "tasks": []}, 8, "failed", at)
    assert unreachable.status == "failed" and unreachable.error == "unreachable: x"
    sneaky = build_report("node1", {"tasks": [{"task": "t", "hidden": True, "diff": "pw"}]},
                          9, "succeeded", at)
    assert sneaky.status == "drift" and sneaky.tasks[0]["diff"] is None
    with session_scope(factory) as s:
        for i in range(5):
            s.add(build_report("node1", {"tasks": []}, i, "succeeded", at))
    with session_scope(factory) as s:
        assert prune(s, keep_per_node=2) == 3
        assert len(node_reports(s, "node1")) == 2
