"""Structured results a playbook hands back to the control plane.

A run gets an empty directory ``<private data dir>/results`` and its path in the
environment variable ``OEMHOST_RESULTS_DIR``. A play that produces data for the control
plane (usage samples, drift reports, mail-rate events...) writes JSON files there from the
controller side, named ``<handler>--<anything>.json``::

    - name: Hand the usage sample to the control plane
      vars:
        results: "{{ lookup('ansible.builtin.env', 'OEMHOST_RESULTS_DIR') }}"
      ansible.builtin.copy:
        content: "{{ usage | to_json }}"
        dest: "{{ results }}/usage--{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
      when: lookup('ansible.builtin.env', 'OEMHOST_RESULTS_DIR') | length > 0

When the run ends (whatever its status), the worker gives each handler its files, then the
directory is removed with everything else but the scrubbed artifacts: results are data for
the database, never kept on disk, and must never hold a secret. Run by ops outside the
worker the variable is unset and such tasks skip themselves.

Components register their handler in ``RESULT_HANDLERS``: name -> ``"module:function"``,
called as ``function(settings, run: RunInfo, files: list[Path])``.
"""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("oemhost.jobs")

ENV_NAME = "OEMHOST_RESULTS_DIR"
RESULT_HANDLERS: dict[str, str] = {
    "mail_rate": "oemhost.monitor.massmail:handle_results",
    "backup": "oemhost.backup.collect:handle_results",
    "usage": "oemhost.usage.collect:handle_results",
    "drift": "oemhost.drift.report:handle_results",
}
_NAME_RE = re.compile(r"^([a-z][a-z0-9_]{0,30})--[A-Za-z0-9_.-]{1,120}\.json$")


@dataclass(frozen=True)
class RunInfo:
    run_id: int
    kind: str
    playbook: str
    nodes: list[str]
    status: str


def results_dir(private_data_dir: Path) -> Path:
    return private_data_dir / "results"


def deliver(settings, run: RunInfo, directory: Path,
            handlers: dict[str, str] | None = None) -> dict[str, int]:
    """Give every handler its files; return how many files each one took.

    A file with an unknown handler or a bad name is logged and ignored; a handler that
    fails is logged and does not stop the others (the run's own status stands)."""
    handlers = RESULT_HANDLERS if handlers is None else handlers
    if not directory.is_dir():
        return {}
    grouped: dict[str, list[Path]] = {}
    for path in sorted(directory.iterdir()):
        m = _NAME_RE.match(path.name)
        if not m or not path.is_file() or path.is_symlink():
            log.warning("run %s: ignoring result file %r", run.run_id, path.name)
            continue
        if m.group(1) not in handlers:
            log.warning("run %s: no handler for result %r", run.run_id, path.name)
            continue
        grouped.setdefault(m.group(1), []).append(path)
    taken = {}
    for name, files in grouped.items():
        module, _, func = handlers[name].partition(":")
        try:
            getattr(importlib.import_module(module), func)(settings, run, files)
            taken[name] = len(files)
        except Exception:  # noqa: BLE001 - one component's bug must not hide the others'
            log.exception("run %s: result handler %s failed", run.run_id, name)
    return taken
