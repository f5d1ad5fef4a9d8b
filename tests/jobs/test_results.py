"""Playbooks hand structured results back to the control plane (jobs.results)."""

from __future__ import annotations

import json

from oemhost.jobs import results

RECEIVED: list = []


def collect(settings, run, files):
    RECEIVED.append((run.kind, run.status, sorted(run.nodes),
                     [json.loads(f.read_text()) for f in files]))


def test_a_run_hands_its_results_to_the_handler(jobenv, worker, monkeypatch):
    monkeypatch.setitem(results.RESULT_HANDLERS, "probe", f"{__name__}:collect")
    RECEIVED.clear()
    job_id = jobenv.submit(kind="usage", playbook="report.yml", nodes=["n1", "n2"])
    job = jobenv.wait(job_id)
    assert job.status == "succeeded", job.error
    assert RECEIVED == [("usage", "succeeded", ["n1", "n2"],
                         [{"node": "n1", "value": 42}, {"node": "n2", "value": 42}])]
    # results are data for the database, not kept on disk
    pdd = jobenv.state / "jobs" / str(job.run_id)
    assert sorted(p.name for p in pdd.iterdir()) == ["artifacts"]


def test_bad_names_unknown_handlers_and_failing_handlers_are_contained(tmp_path, caplog):
    d = tmp_path / "results"
    d.mkdir()
    (d / "probe--n1.json").write_text("{}")
    (d / "nohandler--n1.json").write_text("{}")
    (d / "../escape.json").resolve()
    (d / "Bad Name.json").write_text("{}")
    (d / "boom--n1.json").write_text("{}")
    got = []
    handlers = {"probe": f"{__name__}:collect", "boom": f"{__name__}:explode"}
    RECEIVED.clear()
    run = results.RunInfo(1, "usage", "x.yml", ["n1"], "failed")
    taken = results.deliver(None, run, d, handlers)
    got = RECEIVED[:]
    assert taken == {"probe": 1}
    assert got == [("usage", "failed", ["n1"], [{}])]
    assert "no handler for result 'nohandler--n1.json'" in caplog.text
    assert "ignoring result file 'Bad Name.json'" in caplog.text
    assert "result handler boom failed" in caplog.text
    assert results.deliver(None, run, tmp_path / "absent", handlers) == {}


def explode(settings, run, files):
    raise RuntimeError("handler bug")
