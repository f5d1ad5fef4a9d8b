"""Reading nodes, resellers and tenants; turning nodes into checks."""

import yaml

from oemhost.monitor.config import load_monitor_config
from oemhost.monitor.inventory import (
    build_checks,
    load_nodes,
    load_resellers,
    nodes_of_reseller,
    tenants_by_reseller,
)


def test_nodes_resellers_tenants(env):
    env.node("node1", "10.77.3.11", services=["web", "mail", "ftp", "mariadb", "postgresql",
                                             "dns"], owner="acme",
             infra={"provider": "command", "params": {"argv": ["/bin/true"]}},
             connection={"user": "admin", "port": 2222, "private_key_file": "/k"})
    env.node("node2", "10.77.3.12", services=["web"])
    env.reseller("acme", ["noc@acme.example"], locale="en", company="ACME")
    env.reseller("beta", ["ops@beta.example"])
    env.tenant("shop1", "beta", "node2")
    env.tenant("shop2", "beta", "node2")
    env.tenant("shop3", "beta", "node2", status="removed")
    env.tenant("shop4", "acme", "node1")
    inv = env.inventory
    nodes = {n.name: n for n in load_nodes(inv)}
    assert nodes["node1"].infra_provider == "command"
    assert nodes["node1"].connection.port == 2222
    assert nodes["node2"].services == ("web",)
    assert load_resellers(inv)["acme"].locale == "en"
    assert tenants_by_reseller(inv, "node2") == {"beta": 2}
    assert nodes_of_reseller(inv, "acme") == {"node1"}
    assert nodes_of_reseller(inv, "beta") == {"node2"}


def test_bad_records_are_skipped_not_fatal(env):
    d = env.inventory / "state" / "nodes"
    (d / "bad1.yml").write_text("name: bad1\naddress: '10.0.0.1; reboot'\n")
    (d / "Bad2.yml").write_text("name: Bad2\naddress: 10.0.0.2\n")
    (d / "bad3.yml").write_text(": : :\n")
    (d / "good.yml").write_text("name: good\naddress: !unsafe 10.0.0.4\nservices: [web]\n")
    assert [n.name for n in load_nodes(env.inventory)] == ["good"]


def test_build_checks_follows_services_and_reads_the_db_secret(env):
    env.node("node1", "10.77.3.11", services=["web", "mail", "ftp", "mariadb", "postgresql"])
    env.node("node2", "10.77.3.12", services=["web"])
    # where roles/mariadb and roles/postgresql write them: per node, per engine
    (env.inventory / "secrets" / "node1").mkdir(parents=True)
    (env.inventory / "secrets" / "node1" / "postgresql_monitor").write_text("pg-secret\n")
    (env.inventory / "secrets" / "node1" / "mariadb_monitor").write_text("my-secret\n")
    env.monitor = {"protocols": {"imaps": {"enabled": False}}}
    settings = env.settings()
    checks = build_checks(load_nodes(env.inventory), load_monitor_config(settings), settings)
    by_node = {}
    for c in checks:
        by_node.setdefault(c.node, []).append(c.protocol)
    assert by_node["node2"] == ["ping", "http", "https"]
    assert sorted(by_node["node1"]) == sorted(
        ["ping", "http", "https", "smtp", "smtps", "pop3", "pop3s", "imap", "ftp", "ftps",
         "mysql", "postgresql"])
    pg = next(c for c in checks if c.protocol == "postgresql")
    my = next(c for c in checks if c.protocol == "mysql")
    assert pg.credentials.password == "pg-secret"
    assert my.credentials.password == "my-secret"
    assert pg.credentials.user == my.credentials.user == "oemhost_monitor"
    assert "pg-secret" not in repr(pg)


def test_db_password_file_setting_and_missing_secret(env):
    env.node("node1", "10.77.3.11", services=["mariadb"])
    env.node("node2", "10.77.3.12", services=["mariadb"])
    (env.inventory / "secrets" / "shared_monitor").write_text("one-for-all\n")
    env.monitor = {"db": {"password_file": "{engine}_x"}}
    settings = env.settings()
    assert all(c.credentials is None for c in build_checks(
        load_nodes(env.inventory), load_monitor_config(settings), settings)
        if c.protocol == "mysql")
    (env.inventory / "secrets" / "mariadb_x").write_text("one-for-all\n")
    mysql = [c for c in build_checks(load_nodes(env.inventory), load_monitor_config(settings),
                                     settings) if c.protocol == "mysql"]
    assert [c.credentials.password for c in mysql] == ["one-for-all", "one-for-all"]


def test_inventory_yaml_is_data(env):
    rec = {"name": "node1", "address": "10.77.3.11", "services": ["web"],
           "owner": "{{ lookup('pipe', 'id') }}"}
    (env.inventory / "state" / "nodes" / "node1.yml").write_text(yaml.safe_dump(rec))
    assert load_nodes(env.inventory)[0].owner == "{{ lookup('pipe', 'id') }}"
