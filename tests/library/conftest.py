"""Helpers for the tests of our Ansible modules: import one as a Python module, or run it
for real as Ansible does (a JSON file of arguments), in check mode or not."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[2] / "library"
MODULE_UTILS = LIBRARY.parent / "plugins" / "module_utils"


def _register_module_utils() -> None:
    """Make ``ansible.module_utils.oemhost_*`` (plugins/module_utils, bundled by Ansible
    when it ships a module) importable when a test loads a module as plain Python."""
    import ansible.module_utils

    for path in sorted(MODULE_UTILS.glob("oemhost_*.py")):
        name = f"ansible.module_utils.{path.stem}"
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        setattr(ansible.module_utils, path.stem, mod)


def load_module(name: str):
    _register_module_utils()
    spec = importlib.util.spec_from_file_location(name, LIBRARY / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


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
