"""Level-2 providers: validation, the real command provider, job-based providers' requests,
and the reboot rate limit."""

from datetime import UTC, datetime, timedelta

import pytest

from oemhost.db import make_engine, migrate, session_factory, session_scope
from oemhost.db.models.monitor import MonitorInfraAction
from oemhost.errors import ValidationError
from oemhost.monitor.infra import PROVIDERS, RebootRequest, provider_for
from oemhost.monitor.infra.limits import reboot_allowed
from oemhost.monitor.inventory import NodeInfo


def node(provider, params, name="node1", address="10.77.3.11"):
    return NodeInfo(name=name, address=address, services=("web",), infra_provider=provider,
                    infra_params=params)


def test_registry_has_every_provider_of_the_contract():
    assert set(PROVIDERS) == {"lab", "libvirt", "ipmi", "proxmox", "command"}
    with pytest.raises(ValidationError):
        provider_for("vmware")


def test_command_runs_argv_without_a_shell(tmp_path):
    out = tmp_path / "out"
    script = tmp_path / "cycle"
    script.write_text(f'#!/bin/sh\nprintf "%s|" "$@" > {out}\necho "$OEMHOST_NODE" >> {out}\n')
    script.chmod(0o755)
    p = provider_for("command")
    params = {"argv": [str(script), "--name", "{node}", "x; rm -rf / $(id)", "{address}"]}
    res = p.reboot(RebootRequest(node(None, params), "test", settings=None))
    assert res.status == "done", res.message
    assert out.read_text() == "--name|node1|x; rm -rf / $(id)|10.77.3.11|node1\n"


def test_command_failure_and_timeout(tmp_path):
    p = provider_for("command")
    bad = p.reboot(RebootRequest(node(None, {"argv": ["/bin/sh", "-c", "echo no >&2; exit 3"]}),
                                 "t", settings=None))
    assert bad.status == "failed" and "exited with 3" in bad.message and "no" in bad.message
    slow = p.reboot(RebootRequest(node(None, {"argv": ["/bin/sleep", "5"], "timeout": 0.3}),
                                  "t", settings=None))
    assert slow.status == "failed" and "did not finish" in slow.message
    missing = p.reboot(RebootRequest(node(None, {"argv": [str(tmp_path / "nope")]}), "t",
                                     settings=None))
    assert missing.status == "failed"


@pytest.mark.parametrize("params", [
    {}, {"argv": "reboot-it"}, {"argv": ["relative/path"]}, {"argv": []},
    {"argv": ["/bin/true"], "timeout": -1}, {"argv": ["/bin/true"], "shell": True},
])
def test_command_validation(params):
    with pytest.raises(ValidationError):
        provider_for("command").validate(params)


def test_lab_provider_validates_and_reports_a_missing_lab(tmp_path):
    p = provider_for("lab")
    assert p.validate({"lab": "lab", "node": "node1", "project_dir": "/srv/x"}) == {
        "lab": "lab", "node": "node1", "project_dir": "/srv/x"}
    for bad in ({"node": "../etc"}, {"project_dir": "relative"}, {"lab": "x", "extra": 1}):
        with pytest.raises(ValidationError):
            p.validate(bad)
    # a checkout without a lab: the lab says why, the outcome is "failed", nothing raised
    res = p.reboot(RebootRequest(node("lab", {"lab": "nolab", "node": "node1",
                                              "project_dir": str(tmp_path)}), "t",
                                 settings=None))
    assert res.status == "failed" and "node1" in res.message


class RecordingJobs:
    def __init__(self):
        self.calls = []

    def submit(self, session, **kw):
        self.calls.append(kw)
        return "77"

    def state(self, session, job_id):
        raise AssertionError("not used")


@pytest.mark.parametrize(("provider", "params"), [
    ("libvirt", {"uri": "qemu+ssh://kvm1.example/system", "domain": "node1-vm"}),
    ("ipmi", {"host": "10.1.0.5", "user": "monitor", "password_file": "ipmi/node1"}),
    ("proxmox", {"api_host": "pve1.example", "api_user": "monitor@pve",
                 "api_token_id": "monitor", "api_token_secret_file": "proxmox/token",
                 "vmid": 101}),
])
def test_job_providers_submit_a_reboot_job_without_secrets(provider, params):
    jobs = RecordingJobs()
    res = provider_for(provider).reboot(RebootRequest(node(provider, params), "incident #3",
                                                      settings=None, session=object(),
                                                      jobs=jobs))
    assert (res.status, res.job_id) == ("submitted", "77")
    (call,) = jobs.calls
    assert call["kind"] == "reboot" and call["playbook"] == "reboot_node.yml"
    assert call["nodes"] == ["node1"] and call["requested_by"] == "monitor"
    # the job engine takes ids only as extra vars: the playbook reads the params from the
    # node's inventory record
    assert call["extravars"] == {"oemhost_reboot_provider": provider}
    assert res.data["params"].keys() >= params.keys()
    if provider == "ipmi":
        assert res.data["params"]["port"] == 623


@pytest.mark.parametrize(("provider", "params", "key"), [
    ("libvirt", {"uri": "qemu+ssh://h/system; reboot", "domain": "d"}, "infra.params.uri"),
    ("libvirt", {"uri": "qemu:///system"}, "infra.params.domain"),
    ("ipmi", {"host": "h", "user": "u", "password_file": "/etc/shadow"},
     "infra.params.password_file"),
    ("ipmi", {"host": "h", "user": "u", "password_file": "../x"}, "infra.params.password_file"),
    ("ipmi", {"host": "h", "user": "u", "password": "plain"}, "infra.params"),
    ("proxmox", {"api_host": "h", "api_user": "u", "api_token_id": "t",
                 "api_token_secret_file": "t", "vmid": 5}, "infra.params.vmid"),
])
def test_job_provider_validation(provider, params, key):
    with pytest.raises(ValidationError) as exc:
        provider_for(provider).validate(params)
    assert key in exc.value.errors
    res = provider_for(provider).reboot(RebootRequest(node(provider, params), "t", None,
                                                      session=object(), jobs=RecordingJobs()))
    assert res.status == "failed"


def test_reboot_rate_limit(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    try:
        with session_scope(sessions) as s:
            assert reboot_allowed(s, "node1", now, window=3600, incident_reboots=0,
                                  per_incident=1) == (True, "")
            assert not reboot_allowed(s, "node1", now, window=3600, incident_reboots=1,
                                      per_incident=1)[0]
            s.add(MonitorInfraAction(node="node1", provider="lab", action="reboot",
                                     requested_at=now - timedelta(minutes=30), status="done"))
            s.add(MonitorInfraAction(node="node2", provider="lab", action="reboot",
                                     requested_at=now - timedelta(minutes=30),
                                     status="failed"))
        with session_scope(sessions) as s:
            ok, why = reboot_allowed(s, "node1", now, window=3600, incident_reboots=0,
                                     per_incident=1)
            assert not ok and "60-minute window" in why
            assert reboot_allowed(s, "node1", now + timedelta(minutes=31), window=3600,
                                  incident_reboots=0, per_incident=1)[0]
            assert reboot_allowed(s, "node2", now, window=3600, incident_reboots=0,
                                  per_incident=1)[0]   # a failed attempt does not count
    finally:
        engine.dispose()
