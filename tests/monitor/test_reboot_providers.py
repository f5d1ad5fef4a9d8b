"""The level-2 reboot playbook (playbooks/reboot_node.yml) really reboots, through each
job-based provider's collection module, against fake endpoints speaking the real
protocols (tests/monitor/fake_infra.py): an IPMI BMC, the Proxmox VE API, libvirt's
test driver. The node is not contacted: like a dead node, it has an SSH connection and no
interpreter of its own; every task runs on the controller (delegate_to: localhost)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy import select

from oemhost.config import PROJECT_DIR
from oemhost.db.models.jobs import JobEvent
from tests.jobs.conftest import DEFAULT_JOBS_CFG, JobEnv
from tests.monitor.fake_infra import FakeBmc, FakeProxmox

BIN = Path(sys.executable).parent
BMC_PASSWORD = "bmc-Pw-5150-correct"


def node_inventory(provider: str, params: dict) -> dict:
    """A hosting node that only its record describes: an SSH connection, no interpreter
    of its own (a delegated task must not borrow it), never contacted."""
    return {"all": {"children": {"hosting_nodes": {"hosts": {
        "node1": {"ansible_host": "127.0.0.1", "ansible_connection": "ssh",
                  "oemhost_node": {"name": "node1", "address": "127.0.0.1",
                                   "infra": {"provider": provider, "params": params}}}}}}}}


def write_secrets(inventory: Path, secrets: dict[str, str]) -> None:
    for rel, text in secrets.items():
        path = inventory / "secrets" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def reboot(tmp_path: Path, provider: str, params: dict, secrets: dict[str, str],
           *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run reboot_node.yml as the job engine does (the project's ansible.cfg, the node's
    record in the inventory, the provider as the only extra var)."""
    (tmp_path / "inventory").mkdir(exist_ok=True)
    write_secrets(tmp_path / "inventory", secrets)
    inv = tmp_path / "inventory" / "hosts.yml"
    inv.write_text(yaml.safe_dump(node_inventory(provider, params)))
    env = {**os.environ, **(env or {}), "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"),
           "ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inv),
                           str(PROJECT_DIR / "playbooks" / "reboot_node.yml"),
                           "-e", f"oemhost_reboot_provider={provider}", *extra],
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_ipmi_reboot_resets_the_machine_through_its_bmc(tmp_path):
    with FakeBmc("monitor", BMC_PASSWORD) as bmc:
        out = reboot(tmp_path, "ipmi", {"host": "127.0.0.1", "port": bmc.port,
                                        "user": "monitor", "password_file": "ipmi/node1"},
                     {"ipmi/node1": BMC_PASSWORD}, "-vvv")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    # the machine is on: "boot" is a reset, in a session that proved the password (RAKP)
    assert bmc.actions == ["reset"]
    assert set(bmc.users) == {"monitor"}
    assert BMC_PASSWORD not in out.stdout + out.stderr
    # the delegated module ran with the controller's (the venv's) Python, which has
    # pyghmi: the implicit localhost's interpreter (ansible_playbook_python) wins over
    # ansible.cfg's interpreter_python (/usr/bin/python3, the nodes' Python)
    (python,) = set(re.findall(r"EXEC /bin/sh -c '(\S+) \S+/AnsiballZ_ipmi_power\.py",
                               out.stdout))
    assert Path(python).parent == BIN, python


def test_ipmi_reboot_job_with_a_wrong_password_fails_and_says_why(tmp_path):
    """Through the job engine, as the monitor submits it: the job's error says why, and
    the password is in none of the job's stored events or kept artifacts."""
    wrong = "wrong-Pw-0042"
    env = JobEnv(tmp_path, DEFAULT_JOBS_CFG, project=PROJECT_DIR, hosts={"node1": {}})
    try:
        with FakeBmc("monitor", BMC_PASSWORD) as bmc:
            (env.inventory / "hosts.yml").write_text(yaml.safe_dump(node_inventory(
                "ipmi", {"host": "127.0.0.1", "port": bmc.port, "user": "monitor",
                         "password_file": "ipmi/node1"})))
            write_secrets(env.inventory, {"ipmi/node1": wrong})
            worker = env.start_worker()
            try:
                job = env.wait(env.submit(kind="reboot", playbook="reboot_node.yml",
                                          nodes=["node1"],
                                          extravars={"oemhost_reboot_provider": "ipmi"}))
            finally:
                worker.stop()
        with env.factory() as s:
            events = s.scalars(select(JobEvent).where(JobEvent.run_id == job.run_id)).all()
    finally:
        env.factory.kw["bind"].dispose()
    assert bmc.actions == [] and bmc.users == ["monitor"]
    assert (job.status, job.error) == ("failed", (
        "node1: Report why the BMC did not reset the machine: failed: IPMI power boot "
        f"through 127.0.0.1:{bmc.port} as monitor failed: Incorrect password provided"))
    assert any("Incorrect password provided" in str(e.data) for e in events)
    kept = [p for p in env.state.rglob("*") if p.is_file()]
    assert {"oemhost.db", "stdout"} <= {p.name for p in kept}
    assert any("job_events" in str(p) for p in kept)
    for path in kept:
        assert wrong.encode() not in path.read_bytes(), path


def test_ipmi_reboot_with_a_wrong_password_fails_and_says_why(tmp_path):
    with FakeBmc("monitor", BMC_PASSWORD) as bmc:
        out = reboot(tmp_path, "ipmi", {"host": "127.0.0.1", "port": bmc.port,
                                        "user": "monitor", "password_file": "ipmi/node1"},
                     {"ipmi/node1": "wrong-Pw-0042"}, "-vvv")
    assert out.returncode != 0
    assert bmc.actions == []
    assert (f"IPMI power boot through 127.0.0.1:{bmc.port} as monitor failed: "
            "Incorrect password provided") in out.stdout
    assert "wrong-Pw-0042" not in out.stdout + out.stderr


PVE = {"api_user": "monitor@pve", "api_token_id": "reboot", "vmid": 101,
       "api_token_secret_file": "proxmox/token"}
PVE_SECRET = "5d1e0c53-token-secret-9f2a"


def test_proxmox_reboot_stops_then_starts_the_vm(tmp_path):
    with FakeProxmox(tmp_path, user="monitor@pve", token_id="reboot", secret=PVE_SECRET,
                     vmid=101) as pve:
        # validate_certs (the default): the fake's self-signed certificate is trusted as
        # a private CA would be (requests' CA bundle)
        out = reboot(tmp_path, "proxmox", {**PVE, "api_host": f"127.0.0.1:{pve.port}"},
                     {"proxmox/token": PVE_SECRET}, "-vvv",
                     env={"REQUESTS_CA_BUNDLE": str(pve.cert)})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    assert pve.actions() == [("shutdown", {"forceStop": "1", "timeout": "30"}), ("start", {})]
    assert pve.status == "running" and pve.unknown == []
    assert set(pve.auth) == {f"PVEAPIToken=monitor@pve!reboot={PVE_SECRET}"}
    assert PVE_SECRET not in out.stdout + out.stderr


def test_proxmox_reboot_checks_the_api_certificate_by_default(tmp_path):
    with FakeProxmox(tmp_path, user="monitor@pve", token_id="reboot", secret=PVE_SECRET,
                     vmid=101) as pve:
        out = reboot(tmp_path, "proxmox", {**PVE, "api_host": f"127.0.0.1:{pve.port}"},
                     {"proxmox/token": PVE_SECRET})
    assert out.returncode != 0
    assert pve.requests == [] and pve.status == "running"
    assert "CERTIFICATE_VERIFY_FAILED" in out.stdout, out.stdout[-3000:]
    assert PVE_SECRET not in out.stdout + out.stderr


def test_proxmox_reboot_with_a_wrong_token_fails_and_says_why(tmp_path):
    with FakeProxmox(tmp_path, user="monitor@pve", token_id="reboot", secret=PVE_SECRET,
                     vmid=101) as pve:
        out = reboot(tmp_path, "proxmox", {**PVE, "api_host": f"127.0.0.1:{pve.port}",
                                           "validate_certs": False},
                     {"proxmox/token": "stale-token-0000"}, "-vvv")
    assert out.returncode != 0
    assert pve.requests == [] and pve.status == "running"
    assert pve.auth and set(pve.auth) == {"PVEAPIToken=monitor@pve!reboot=stale-token-0000"}
    assert "Proxmox VM 101 on 127.0.0.1:" in out.stdout
    assert "(Stop the Proxmox VM hard) failed:" in out.stdout
    assert "401 Unauthorized: permission denied - invalid PVE ticket" in out.stdout
    assert "stale-token-0000" not in out.stdout + out.stderr


def task_results(tmp_path: Path, provider: str, params: dict) -> dict[str, dict]:
    """Run the playbook with the JSON callback: {task name: node1's result}."""
    out = reboot(tmp_path, provider, params, {},
                 env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    (play,) = json.loads(out.stdout)["plays"]
    return {t["task"]["name"]: t["hosts"]["node1"] for t in play["tasks"]}


# libvirt's test driver runs inside the client library: its machine state lives in the
# process that opened the connection, and each module run is a new process. So the two
# halves of the reset are each checked on the domain state they act on: destroy on a
# running domain (test:///default's "test"), start on a shut-off one (a test-driver
# machine file whose domain is off; destroy must then pass over "domain is not running").
SHUT_OFF = """<node>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>node1-vm</name>
    <memory>65536</memory>
    <os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
</node>
"""


def test_libvirt_reboot_destroys_the_running_domain(tmp_path):
    res = task_results(tmp_path, "libvirt", {"uri": "test:///default", "domain": "test"})
    destroyed = res["Power the libvirt domain off"]
    assert destroyed.get("destroy") == 0 and not destroyed.get("failed"), destroyed
    started = res["Start the libvirt domain"]
    # a fresh connection's "test" is running again: state running finds nothing to do
    assert not started.get("failed") and started["changed"] is False, started


def test_libvirt_reboot_starts_a_shut_off_domain(tmp_path):
    machine = tmp_path / "machine.xml"
    machine.write_text(SHUT_OFF)
    res = task_results(tmp_path, "libvirt", {"uri": f"test://{machine}", "domain": "node1-vm"})
    destroyed = res["Power the libvirt domain off"]
    assert destroyed["failed_when_result"] is False and not destroyed.get("failed"), destroyed
    assert destroyed["msg"] == "Requested operation is not valid: domain is not running"
    started = res["Start the libvirt domain"]
    assert started["changed"] is True and started["msg"] == 0, started   # virDomainCreate


def test_libvirt_reboot_of_an_unknown_domain_fails(tmp_path):
    out = reboot(tmp_path, "libvirt", {"uri": "test:///default", "domain": "node9-vm"}, {})
    assert out.returncode != 0
    assert "Power the libvirt domain off" in out.stdout
    assert "Start the libvirt domain" not in out.stdout
