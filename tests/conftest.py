"""Shared fixtures. Lab tests (marker ``lab``) need root and boot real Debian nodes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oemhost.config import PROJECT_DIR

VENV_BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0 and shutil.which("systemd-nspawn"):
        return
    skip = pytest.mark.skip(reason="lab tests need root and systemd-nspawn")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def oemhost_cli():
    """Run the real ``oemhost`` console script; returns CompletedProcess."""

    def run(*args: str, env: dict | None = None, check: bool = False, timeout: float = 900,
            **kw) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(VENV_BIN / "oemhost"), *args], capture_output=True,
                              text=True, env=env, timeout=timeout, cwd=PROJECT_DIR, **kw)
        if check and proc.returncode != 0:
            raise AssertionError(f"oemhost {' '.join(args)} failed ({proc.returncode}): "
                                 f"{proc.stderr}")
        return proc

    return run
