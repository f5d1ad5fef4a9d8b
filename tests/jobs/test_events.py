"""What an event becomes before it is stored or kept (no ansible needed)."""

from __future__ import annotations

from oemhost.jobs.events import CENSORED, EventSink, scrub


class FakeWriter:
    def __init__(self):
        self.items = []

    def put(self, item):
        self.items.append(item)


def ev(event, stdout="", **data):
    return {"event": event, "stdout": stdout, "pid": 4242, "created": "2026-11-24T10:00:00+00:00",
            "event_data": data}


def test_scrub_keeps_status_and_drops_arguments_and_results():
    e = ev("runner_on_ok", "ok: [n1]", host="n1", task="Set password",
           task_args="password=hunter2", item="hunter2", diff={"after": "hunter2"},
           res={"changed": True, "msg": "done", "invocation": {"module_args": {"pw": "hunter2"}},
                "stdout": "hunter2", "results": [{"item": "hunter2"}]})
    scrub(e)
    assert e["event_data"] == {"host": "n1", "task": "Set password",
                               "res": {"changed": True, "msg": "done"}}
    assert "hunter2" not in repr(e)


def test_scrub_censors_no_log_results():
    e = ev("runner_on_failed", host="n1",
           res={"_ansible_no_log": True, "failed": True, "msg": "bad pw hunter2"})
    scrub(e)
    assert e["event_data"]["res"] == {"censored": CENSORED, "failed": True}


def test_diffs_are_not_kept():
    e = ev("runner_on_file_diff", "--- before\n+++ after\n+secret", host="n1")
    scrub(e)
    assert e["stdout"] == "(diff not kept)"


def test_sink_counts_hosts_stores_failures_and_the_recap():
    w = FakeWriter()
    pids = []
    sink = EventSink(7, w, on_pid=pids.append)
    sink(ev("runner_on_start", "", host="n1", task="t"))  # no output: not stored
    sink(ev("playbook_on_task_start", "\r\nTASK [t] ****", task="t"))
    sink(ev("runner_on_ok", "changed: [n1]", host="n1", task="t", res={"changed": True}))
    sink(ev("runner_on_failed", "fatal: [n2]: FAILED!", host="n2", task="t",
            res={"failed": True, "msg": "disk full"}))
    sink(ev("runner_on_failed", "fatal: [n1]", host="n1", task="u", ignore_errors=True,
            res={"failed": True, "msg": "ignored"}))
    assert pids == [4242] and sink.ansible_pid == 4242
    assert sink.first_failure == "n2: t: failed: disk full"
    assert sink.host_results()["n2"]["failed"] == 1  # counted while no recap came
    sink(ev("playbook_on_stats", "PLAY RECAP", ok={"n1": 2}, changed={"n1": 1},
            failures={"n2": 1}, dark={}, skipped={}, rescued={}, ignored={"n1": 1}))
    stored = [(i.seq, i.event, i.host, i.status) for i in w.items]
    assert stored == [(1, "playbook_on_task_start", None, None),
                      (2, "runner_on_ok", "n1", "changed"),
                      (3, "runner_on_failed", "n2", "failed"),
                      (4, "runner_on_failed", "n1", "ignored"),
                      (5, "playbook_on_stats", None, "recap")]
    assert w.items[0].stdout == "TASK [t] ****" and w.items[0].run_id == 7
    assert w.items[2].data == {"msg": "disk full"}
    assert sink.host_results() == {
        "n1": {"ok": 2, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 0,
               "rescued": 0, "ignored": 1},
        "n2": {"ok": 0, "changed": 0, "failed": 1, "unreachable": 0, "skipped": 0,
               "rescued": 0, "ignored": 0}}


def test_output_lines_become_blocks_and_storage_is_bounded():
    w = FakeWriter()
    sink = EventSink(1, w, max_events=5, max_stdout=100)
    for i in range(30):  # a traceback: one record per block, not per line
        sink(ev("verbose", f"line {i}"))
    sink(ev("error", "ERROR! the playbook could not be parsed"))
    for i in range(20):
        sink(ev("runner_on_ok", f"ok: [n{i}]", host=f"n{i}", task="t", res={}))
    sink(ev("runner_on_failed", "fatal: [n1]", host="n1", task="t", res={"msg": "x"}))
    sink.finish()
    kinds = [i.event for i in w.items]
    # 30 lines in 2 blocks of at most max_stdout characters
    assert kinds.count("verbose") == 3 and all(len(i.stdout) <= 100 for i in w.items)
    assert "output cut" not in w.items[0].stdout
    assert w.items[0].stdout.splitlines()[:2] == ["line 0", "line 1"]
    assert kinds.count("runner_on_ok") == 1  # then the cap of 5 is reached
    assert "error" in kinds and kinds[-1] == "runner_on_failed"  # failures always
    assert sink.dropped == 19
    assert sink.errors == ["ERROR! the playbook could not be parsed"]
    assert sink.host_results()["n19"]["ok"] == 1  # counted even when not stored


def test_a_broken_event_never_breaks_the_run():
    w = FakeWriter()
    sink = EventSink(1, w)
    assert sink({"event": "runner_on_ok", "event_data": "not a dict", "stdout": object()}) \
        is True


def test_a_hidden_failure_gives_way_to_the_rescue_that_says_why():
    """A no_log task's failure is censored; the rescue reporting its message is the
    job's error. A failure that says why is never replaced."""
    sink = EventSink(8, FakeWriter())
    sink(ev("runner_on_failed", "fatal: [n1]", host="n1", task="Power-boot",
            res={"_ansible_no_log": True, "failed": True, "msg": "bad pw hunter2"}))
    assert sink.first_failure == f"n1: Power-boot: failed: {CENSORED}"
    sink(ev("runner_on_failed", "fatal: [n1]", host="n1", task="Report",
            res={"failed": True, "msg": "IPMI power boot failed: Incorrect password"}))
    assert sink.first_failure == "n1: Report: failed: IPMI power boot failed: Incorrect password"
    sink(ev("runner_on_failed", "fatal: [n2]", host="n2", task="Later",
            res={"failed": True, "msg": "something else"}))
    assert sink.first_failure == "n1: Report: failed: IPMI power boot failed: Incorrect password"
