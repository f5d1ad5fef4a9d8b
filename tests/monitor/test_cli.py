"""``oemhost monitor ...`` sub-commands (through their own parser: the top-level CLI
imports modules of other parts that land separately)."""

import argparse
import json

import pytest

from oemhost.errors import OemhostError, ValidationError
from oemhost.monitor import cli


def run(settings, *argv) -> int:
    parser = argparse.ArgumentParser(prog="oemhost")
    cli.register(parser.add_subparsers(dest="group"))
    args = parser.parse_args(["monitor", *argv])
    return args.func(args, settings)


def test_check_any_address(env, endpoints, capsys):
    addr = endpoints.address()
    endpoints.start("imap", addr, 1143)
    try:
        rc = run(env.settings(), "check", addr, "-p", "imap", "--port", "1143", "--json")
    finally:
        endpoints.stop(addr, 1143)
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok" and out["message"] == "IMAP * OK"
    rc = run(env.settings(), "check", addr, "-p", "imap", "--port", "1143", "--timeout", "2")
    assert rc == 2 and "CRITICAL" in capsys.readouterr().out
    with pytest.raises(ValidationError):
        run(env.settings(), "check", addr, "-p", "gopher")
    with pytest.raises(ValidationError):
        run(env.settings(), "check", addr, "-p", "http", "--param", "evil")


def test_probe_node_from_inventory(env, endpoints, capsys):
    addr = endpoints.address()
    env.node("node1", addr, services=["web"])
    env.monitor = {"protocols": {"http": {"port": 8080}, "https": {"port": 8443},
                                 "ping": {"packets": 1}}}
    endpoints.start("http", addr, 8080)
    endpoints.start("https", addr, 8443)
    try:
        rc = run(env.settings(), "probe", "node1")
    finally:
        endpoints.stop(addr, 8080)
        endpoints.stop(addr, 8443)
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0 and [line.split()[1] for line in lines] == ["ping", "http", "https"]
    with pytest.raises(OemhostError):
        run(env.settings(), "probe", "nosuchnode")


def test_sweep_status_incidents_and_report_due(env, endpoints, capsys):
    from oemhost.monitor import db

    addr = endpoints.address()
    env.node("node1", addr, services=["web"])
    env.monitor = {"protocols": {"http": {"port": 8080}, "https": {"port": 8443},
                                 "ping": {"packets": 1}}, "max_attempts": 1,
                   "remediation": False}
    endpoints.start("http", addr, 8080)
    settings = env.settings()
    try:
        assert run(settings, "sweep") == 0
        assert "incidents opened [1]" in capsys.readouterr().out
        run(settings, "status")
        out = capsys.readouterr().out
        assert "node1: CRITICAL  incidents #1" in out and "https" in out
        run(settings, "incidents", "--open")
        assert capsys.readouterr().out.startswith("#1 open")
        run(settings, "incident", "1")
        out = capsys.readouterr().out
        assert "incident #1: node1 web open" in out and "detected" in out
    finally:
        endpoints.stop(addr, 8080)
        db.dispose()
    run(settings, "report-due", "2026-07-17T19:00:00+09:00")
    assert "report day 2026-07-21" in capsys.readouterr().out


def test_test_mail(env, smtpd, capsys):
    smtpd.box.clear()
    assert run(env.settings(), "test-mail", "ops@provider.example") == 0
    assert capsys.readouterr().out.startswith("sent <")
    assert smtpd.box.messages[0]["to"] == ["ops@provider.example"]


def test_real_console_script(oemhost_cli, env):
    import os

    e = dict(os.environ, OEMHOST_CONFIG=str(env.root / "oemhost.toml"))
    env.settings()
    ok = oemhost_cli("monitor", "report-due", "2026-09-18T18:00:00+09:00", env=e)
    assert ok.returncode == 0 and "report day 2026-09-24" in ok.stdout
    bad = oemhost_cli("monitor", "check", "127.0.0.1", "-p", "gopher", env=e)
    assert bad.returncode == 1
    assert bad.stderr.startswith("oemhost: error: protocol: one of ping, http")
    assert len(bad.stderr.splitlines()) == 1
