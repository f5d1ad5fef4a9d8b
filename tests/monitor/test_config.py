"""[monitor] settings: defaults, overrides, and clear errors for bad input."""

import pytest

from oemhost.errors import ValidationError
from oemhost.monitor.config import load_monitor_config


def test_defaults_are_the_production_ones():
    cfg = load_monitor_config({})
    assert cfg.interval == 600 and cfg.tick == 600
    assert cfg.notice_after == 600 and cfg.max_attempts == 3
    assert cfg.misfire_grace_time > 1
    assert cfg.protocols["https"].port == 443 and cfg.protocols["ftps"].port == 21
    assert cfg.protocols["smtps"].port == 465 and cfg.protocols["mysql"].port == 3306
    assert cfg.units["imaps"] == "dovecot" and cfg.units["https"] == "apache2"
    assert cfg.business.timezone == "Asia/Tokyo"


def test_per_protocol_and_per_node_overrides():
    cfg = load_monitor_config({
        "interval": 300,
        "protocols": {"https": {"interval": 60, "host": "www.example.jp", "port": 8443}},
        "nodes": {"node1": {"https": {"interval": 30, "path": "/health"}}},
        "units": {"ftp": "vsftpd", "ftps": "vsftpd"},
    })
    assert cfg.protocols["http"].interval == 300
    https = cfg.check_config("node2", "https")
    assert (https.interval, https.port, https.params["host"]) == (60, 8443, "www.example.jp")
    n1 = cfg.check_config("node1", "https")
    assert n1.interval == 30 and n1.params["path"] == "/health"
    assert n1.params["host"] == "www.example.jp"
    assert cfg.tick == 30
    assert cfg.units["ftp"] == "vsftpd"


@pytest.mark.parametrize(("section", "key"), [
    ({"intervall": 10}, "intervall"),
    ({"interval": "ten"}, "interval"),
    ({"interval": 0}, "interval"),
    ({"max_attempts": 2.5}, "max_attempts"),
    ({"report_send": "whenever"}, "report_send"),
    ({"remediation": "yes"}, "remediation"),
    ({"ops_contacts": ["not-an-address"]}, "ops_contacts[0]"),
    ({"ops_language": "fr"}, "ops_language"),
    ({"units": {"http": "apache2; rm -rf /"}}, "units.http"),
    ({"units": {"gopher": "x"}}, "units.gopher"),
    ({"db": {"password_file": "../../etc/shadow"}}, "db.password_file"),
    ({"protocols": {"gopher": {}}}, "protocols.gopher"),
    ({"protocols": {"http": {"path": "/a b"}}}, "protocols.http.path"),
    ({"protocols": {"http": {"ok_status": "200-999"}}}, "protocols.http.ok_status"),
    ({"protocols": {"http": {"port": 70000}}}, "protocols.http.port"),
    ({"protocols": {"http": {"colour": "red"}}}, "protocols.http.colour"),
    ({"nodes": {"node1": {"ssh": {}}}}, "nodes.node1.ssh"),
    ({"flap_low": 60}, "flap_low"),
    ({"business": {"hours": "all day"}}, "business.hours"),
])
def test_bad_values_name_the_key(section, key):
    with pytest.raises(ValidationError) as exc:
        load_monitor_config(section)
    assert key in exc.value.errors, exc.value.errors
    assert "monitor settings" in str(exc.value)
