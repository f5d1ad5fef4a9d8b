"""``oemhost jobs ...`` and ``oemhost worker`` as ops use them (the real console script)."""

from __future__ import annotations

import json

import pytest

BACKENDS = ["sqlite", "postgresql"]  # see conftest.jobenv


@pytest.fixture
def cli(oemhost_cli, jobenv):
    def run(*args, **kw):
        return oemhost_cli(*args, env=jobenv.env, **kw)

    return run


@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)
def test_submit_wait_show_log_list_retry(cli, jobenv):
    w = jobenv.start_worker()
    try:
        out = cli("jobs", "submit", "--kind", "provision", "--playbook", "converge.yml",
                  "--node", "n1", "--tenant", "shop1", "--reason", "by hand", "--wait",
                  "--timeout", "120", check=True)
        assert out.stdout.splitlines() == ["job 1 queued", "job 1 succeeded"]
        show = cli("jobs", "show", "1", check=True).stdout
        assert "job 1: succeeded" in show and "tenants shop1" in show
        assert "asked by cli:" in show and ": by hand" in show
        assert "n1" in show and "changed=2" in show
        data = json.loads(cli("jobs", "show", "1", "--json", check=True).stdout)
        assert data["status"] == "succeeded" and data["host_results"]["n1"]["ok"] == 3
        log = cli("jobs", "log", "1", check=True).stdout
        assert "TASK [Record the start of the run on this node]" in log
        assert "PLAY RECAP" in log and log.rstrip().endswith("-- job 1 succeeded")
        assert cli("jobs", "log", "1", "--follow", check=True).stdout == log

        failed = cli("jobs", "submit", "--kind", "remediation", "--playbook", "fail.yml",
                     "--node", "n2", "--wait")
        assert failed.returncode == 1
        assert "job 2 failed: n2: A task that fails: failed: this node refuses" in failed.stdout
        again = cli("jobs", "retry", "2", "--by", "ops:bob", "--wait", "--timeout", "120")
        assert again.returncode == 1 and "job 3 queued (retry of job 2)" in again.stdout

        listing = cli("jobs", "list", "--node", "n2", check=True).stdout
        lines = listing.splitlines()
        assert lines[0].split()[:3] == ["ID", "STATUS", "KIND"]
        assert [ln.split()[0] for ln in lines[1:-1]] == ["3", "2"]
        assert lines[-1] == "(2 job(s), page 1/1)"
        data = json.loads(cli("jobs", "list", "--status", "succeeded", "--json",
                              check=True).stdout)
        assert [j["id"] for j in data] == [1]
        workers = cli("jobs", "workers", check=True).stdout
        assert w.worker.id in workers and "alive" in workers
    finally:
        w.stop()


def test_cancel_from_the_cli(cli):
    cli("jobs", "submit", "--kind", "usage", "--playbook", "converge.yml", "--node", "n1",
        check=True)
    out = cli("jobs", "cancel", "1", "--by", "ops:bob", check=True)
    assert out.stdout.strip() == "job 1: cancelled"
    again = cli("jobs", "cancel", "1")
    assert again.returncode == 1
    assert again.stderr.strip() == "oemhost: error: job 1 is already cancelled"


@pytest.mark.parametrize("args, message", [
    (["--node", "nosuch", "--playbook", "converge.yml"], "unknown node nosuch"),
    (["--node", "n1", "--playbook", "nosuch.yml"], "unknown playbook nosuch.yml"),
    (["--node", "n1", "--playbook", "converge.yml", "-e", "x={{ lookup('pipe','id') }}"],
     "extravars.x: only ids"),
    (["--node", "n1", "--playbook", "converge.yml", "-e", "novalue"], "expected KEY=VALUE"),
])
def test_bad_requests_get_one_line(cli, args, message):
    out = cli("jobs", "submit", "--kind", "provision", *args)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and message in out.stderr
    assert "Traceback" not in out.stderr
    assert "(0 job(s)" in cli("jobs", "list", check=True).stdout


@pytest.mark.parametrize("url, message", [
    ("postgresql+psycopg://oem:pw-123@127.0.0.1:1/oemhost", "unreachable"),
    ("sqlite:////proc/version/oemhost.db", "cannot create it"),
])
@pytest.mark.parametrize("command", [["jobs", "list"], ["worker"]])
def test_an_unreachable_database_is_one_clear_line(oemhost_cli, jobenv, url, message,
                                                    command):
    env = dict(jobenv.env, OEMHOST_DATABASE_URL=url)
    out = oemhost_cli(*command, env=env, timeout=60)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and message in out.stderr
    assert out.stderr.startswith("oemhost: error: database ")
    assert "pw-123" not in out.stderr and "Traceback" not in out.stderr


def test_unknown_job_and_bad_config(cli, jobenv):
    out = cli("jobs", "show", "42")
    assert out.returncode == 1 and out.stderr.strip() == "oemhost: error: job 42 not found"
    jobenv.config.write_text("[jobs]\nmax_parallel = 0\n")
    out = cli("worker")
    assert out.returncode == 1
    assert out.stderr.strip() == ("oemhost: error: config: [jobs] max_parallel: must be a "
                                  "positive integer")
    jobenv.config.write_text("[jobs]\nmax_paralel = 2\n")
    out = cli("worker")
    assert out.stderr.strip() == "oemhost: error: config: [jobs]: unknown setting(s) max_paralel"
