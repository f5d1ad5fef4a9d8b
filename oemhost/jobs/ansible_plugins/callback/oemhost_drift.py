"""Callback plugin: what a check-mode converge would change, handed to the control plane."""

from __future__ import annotations

import json
import os
import tempfile

from ansible import context
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: oemhost_drift
type: aggregate
short_description: record the tasks a check-mode run would change, with their diffs
description:
  - Loaded by the oemhost worker for every job; active only in a run with C(--check) and
    E(OEMHOST_RESULTS_DIR) set (the worker's C(drift) jobs). Does nothing for ops running
    ansible-playbook by hand.
  - At the end of the run writes C(drift--<host>.json) per host into the results hand-off
    directory (see oemhost/jobs/results.py) with the tasks that would change (play, task,
    action, diff) and the failures. A task with C(no_log) (or a censored result) is listed without
    its diff or message (C(hidden)).
options: {}
"""

MAX_DIFF = 20000  # characters kept of one task's diff
MAX_TASKS = 500  # tasks kept per host
HIDDEN = "hidden (no_log)"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "oemhost_drift"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        self.results_dir = os.environ.get("OEMHOST_RESULTS_DIR", "")
        self.hosts: dict[str, dict] = {}
        self.play = ""

    @property
    def active(self) -> bool:
        return bool(self.results_dir) and bool(context.CLIARGS.get("check"))

    def _host(self, name: str) -> dict:
        return self.hosts.setdefault(name, {"node": name, "changed": 0, "failed": 0,
                                            "unreachable": False, "tasks": [], "errors": []})

    # ansible-core >= 2.19: CallbackTaskResult.result/.task/.host (the _ names are deprecated)
    @staticmethod
    def _hidden(result) -> bool:
        res = result.result
        return bool(result.task.no_log or res.get("_ansible_no_log") or "censored" in res)

    def _diff_text(self, res: dict) -> str | None:
        diffs = []
        if res.get("diff"):
            diffs.append(res["diff"])
        for item in res.get("results") or []:
            if isinstance(item, dict) and item.get("changed") and item.get("diff"):
                if item.get("_ansible_no_log") or "censored" in item:
                    return None
                diffs.append(item["diff"])
        text = "".join(self._get_diff(d) for d in diffs).strip("\n")
        if len(text) > MAX_DIFF:
            text = text[:MAX_DIFF] + "\n[... diff cut]"
        return text or None

    def v2_playbook_on_play_start(self, play):
        self.play = play.get_name().strip()

    def v2_runner_on_ok(self, result):
        if not self.active or not result.result.get("changed"):
            return
        host = self._host(result.host.get_name())
        host["changed"] += 1
        if len(host["tasks"]) >= MAX_TASKS:
            return
        hidden = self._hidden(result)
        role = getattr(result.task, "_role", None)
        host["tasks"].append({
            "play": self.play, "role": role.get_name() if role else "",
            "task": result.task.get_name().strip(), "action": result.task.action,
            "hidden": hidden, "diff": None if hidden else self._diff_text(result.result)})

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not self.active or ignore_errors:
            return
        host = self._host(result.host.get_name())
        host["failed"] += 1
        msg = HIDDEN if self._hidden(result) else str(result.result.get("msg", ""))[:500]
        host["errors"].append(f"{result.task.get_name().strip()}: {msg}")

    def v2_runner_on_unreachable(self, result):
        if not self.active:
            return
        host = self._host(result.host.get_name())
        host["unreachable"] = True
        host["errors"].append(f"unreachable: {str(result.result.get('msg', ''))[:500]}")

    def v2_playbook_on_stats(self, stats):
        if not self.active or not os.path.isdir(self.results_dir):
            return
        for name in stats.processed:
            self._host(name)
        for name, report in self.hosts.items():
            fd, tmp = tempfile.mkstemp(prefix=".drift-", dir=self.results_dir)
            with os.fdopen(fd, "w") as fh:
                json.dump(report, fh)
            os.replace(tmp, os.path.join(self.results_dir, f"drift--{name}.json"))
