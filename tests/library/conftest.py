"""Helpers for the tests of our Ansible modules: run one for real as Ansible does (a JSON
file of arguments), in check mode or not. To import one as a Python module (its functions
are testable): ``from modload import load``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[2] / "library"
@pytest.fixture
def run_module(tmp_path):
    """run_module(name, args, check=False, diff=True) -> the module's JSON result."""

    def run(name: str, args: dict, *, check: bool = False, diff: bool = True) -> dict:
        payload = dict(args, _ansible_check_mode=check, _ansible_diff=diff,
                       _ansible_tmpdir=str(tmp_path))
        argfile = tmp_path / f"{name}-args.json"
        argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
        proc = subprocess.run([sys.executable, str(LIBRARY / f"{name}.py"), str(argfile)],
                              capture_output=True, text=True, timeout=120)
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{name}: no JSON result: {proc.stdout} {proc.stderr}") from exc

    return run


@pytest.fixture
def run_module_raw(tmp_path):
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
