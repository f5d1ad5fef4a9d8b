"""Fixtures for the store tests: real inventories in temporary git repositories."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from oemhost.store import Store

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

RESELLER = {
    "id": "acme", "company": "ACME Hosting K.K.", "contacts": ["noc@acme.example"],
    "brand": {"display_name": "ACME Web", "panel_host": "panel.acme.example"},
    "limits": {"tenants": 100, "disk_mb": 100000, "oversell": False},
}
PLAN = {
    "id": "basic", "name": "Basic", "disk_mb": 2000, "default_web_mb": 1500, "max_domains": 3,
    "max_mailboxes": 3, "max_mailbox_mb": 1000, "max_ftp_accounts": 2,
    "max_databases": {"mariadb": 2, "postgresql": 1}, "dns": True, "ssh": False, "mail": True,
}
NODE = {
    "name": "node1", "address": "127.0.0.1",
    "services": ["web", "mail", "ftp", "mariadb", "postgresql", "dns"],
    "infra": {"provider": "lab", "params": {"lab": "test", "node": "node1"}},
    "capacity": {"tenants": 100, "disk_mb": 1000000},
}


def tenant_record(tid: str, **extra) -> dict:
    rec = {"id": tid, "reseller": "acme", "plan": "basic", "node": "node1",
           "contractor": f"Contractor of {tid}", "contact_email": f"owner@{tid}.example",
           "contract_date": "2026-11-01", "start_date": "2026-11-05"}
    rec.update(extra)
    return rec


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """An inventory with reseller acme, plan acme/basic and node node1 (no tenants)."""
    s = Store.init(tmp_path / "inv")
    s.add_reseller(RESELLER, actor="ops:test")
    s.add_plan("acme", PLAN, actor="ops:test")
    s.put_node(NODE, actor="ops:test")
    return s


@pytest.fixture
def shop(store: Store) -> Store:
    """``store`` plus tenant shop1 with domain shop1.example."""
    store.add_tenant(tenant_record("shop1", domains=["shop1.example"]),
                     password="tenant-password-1", actor="reseller:acme/bob")
    return store


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def ansible_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(PROJECT / "ansible.cfg"),
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": "/tmp/.ansible-test-tmp"}
    env.update(extra or {})
    return env


def run_ansible(args: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, env=ansible_env(),
                          capture_output=True, text=True, **kw)


@pytest.fixture
def cli(monkeypatch):
    """Run ``oemhost ...`` in process; returns (exit status, stdout, stderr).

    Only this component's commands are registered, so the test does not depend on other
    components being merged."""
    import oemhost.cli

    monkeypatch.setattr(oemhost.cli, "COMMAND_MODULES", ["oemhost.store.cli"])

    def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = oemhost.cli.main(list(argv))
            except SystemExit as exc:  # argparse usage errors
                code = exc.code
        return int(code or 0), out.getvalue(), err.getvalue()

    return run
