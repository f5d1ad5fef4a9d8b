"""Run the custom modules of library/ as Ansible does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from modload import LIBRARY


@pytest.fixture
def run_module(tmp_path):
    """Run library/<name>.py the way Ansible's old-style direct call does: argv[1] is a JSON
    file of ANSIBLE_MODULE_ARGS. Returns (result dict, raw stdout)."""

    def run(name: str, args: dict, *, check_mode: bool = False, diff: bool = False):
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
        path = tmp_path / f"args-{name}.json"
        path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        proc = subprocess.run([sys.executable, str(LIBRARY / f"{name}.py"), str(path)],
                              capture_output=True, text=True, timeout=120)
        return json.loads(proc.stdout), proc.stdout

    return run
