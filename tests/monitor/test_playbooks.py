"""The remediation playbooks refuse what they must not do, before touching anything.

Run with the real ansible-playbook against a local inventory (connection local); the lab
tests (test_lab_faults.py) run remediate_service.yml for real on a node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from oemhost.config import PROJECT_DIR

BIN = Path(sys.executable).parent


def play(tmp_path: Path, playbook: str, node: dict, *extra: str) -> subprocess.CompletedProcess:
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"all": {"children": {"hosting_nodes": {"hosts": {
        "node1": {"ansible_connection": "local",
                  "ansible_python_interpreter": sys.executable,
                  "oemhost_node": node}}}}}}))
    env = {**os.environ, "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"),
           "ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inv),
                           str(PROJECT_DIR / "playbooks" / playbook), *extra],
                          env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("unit", ["sshd", "apache2;reboot", "cron"])
def test_remediation_refuses_a_unit_it_does_not_manage(tmp_path, unit):
    out = play(tmp_path, "remediate_service.yml", {"name": "node1", "address": "127.0.0.1"},
               "-e", f"oemhost_service={unit}")
    assert out.returncode != 0
    assert "oemhost_service must be one of apache2, postfix, dovecot" in out.stdout
    assert "Restart the unit" not in out.stdout        # stopped before any change


def test_remediation_needs_a_unit(tmp_path):
    out = play(tmp_path, "remediate_service.yml", {"name": "node1", "address": "127.0.0.1"})
    assert out.returncode != 0 and "got nothing" in out.stdout


@pytest.mark.parametrize(("provider", "node_provider"), [
    ("ipmi", "lab"), ("libvirt", "proxmox"), ("command", "command"), ("lab", "lab")])
def test_reboot_refuses_a_provider_the_node_does_not_use(tmp_path, provider, node_provider):
    node = {"name": "node1", "address": "127.0.0.1",
            "infra": {"provider": node_provider, "params": {}}}
    out = play(tmp_path, "reboot_node.yml", node, "-e", f"oemhost_reboot_provider={provider}")
    assert out.returncode != 0
    assert "is not the node's infrastructure provider" in out.stdout
    assert "Power the libvirt domain off" not in out.stdout


def test_ipmi_reboot_reads_its_password_from_the_secrets_dir_and_hides_it(tmp_path):
    """No BMC here: the module fails to reach it and the job says so; the secret file is
    read by path and never printed. (test_reboot_providers.py runs it against a BMC.)"""
    secrets = tmp_path / "secrets" / "ipmi"
    secrets.mkdir(parents=True)
    (secrets / "node1").write_text("bmc-secret-value\n")
    node = {"name": "node1", "address": "127.0.0.1",
            "infra": {"provider": "ipmi", "params": {"host": "127.0.0.1", "port": 9,
                                                     "user": "admin",
                                                     "password_file": "ipmi/node1"}}}
    out = play(tmp_path, "reboot_node.yml", node, "-e", "oemhost_reboot_provider=ipmi",
               "-vvv")
    assert out.returncode != 0
    assert "Reset the machine through its BMC" in out.stdout
    assert ("IPMI power boot through 127.0.0.1:9 as admin failed: no answer from the BMC"
            in out.stdout)
    assert "bmc-secret-value" not in out.stdout + out.stderr
