"""The ops CLI: --json output, one clear line and a non-zero exit on every error."""

from __future__ import annotations

import json

from oemhost.store import Store

from .conftest import NODE, git


def test_list_show_and_json(shop: Store, cli):
    inv = str(shop.root)
    code, out, _ = cli("tenant", "list", "-i", inv, "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ["shop1"] and rows[0]["version"]
    code, out, _ = cli("tenant", "show", "shop1", "-i", inv, "--json")
    shown = json.loads(out)
    assert shown["password_hash"] == "<set>" and shown["version"] == rows[0]["version"]
    code, out, _ = cli("tenant", "list", "-i", inv)
    assert code == 0 and out.splitlines()[0].split()[:3] == ["ID", "RESELLER", "PLAN"]
    assert cli("node", "list", "-i", inv, "--json")[1].count('"node1"') == 1
    assert json.loads(cli("plan", "show", "acme/basic", "-i", inv, "--json")[1])["id"] == "basic"


def test_writes_through_the_cli(shop: Store, cli, tmp_path):
    inv = str(shop.root)
    code, out, err = cli("tenant", "change", "shop1", "--set", "disk.web_mb=1000",
                         "--set-str", "contractor={{ not a template }}", "--reason", "phone",
                         "--actor", "ops:alice", "-i", inv, "--json")
    assert code == 0, err
    commit = json.loads(out)["commit"]
    assert git(shop.root, "log", "-1", "--format=%H %an").split() == [commit, "ops:alice"]
    t = shop.get_tenant("shop1")
    assert t.contractor == "{{ not a template }}" and t.disk.web_mb == 1000
    reseller = tmp_path / "r.yml"
    reseller.write_text("---\nid: blue\ncompany: Blue K.K.\nbrand:\n  display_name: Blue\n")
    assert cli("reseller", "add", "--file", str(reseller), "-i", inv)[0] == 0
    assert cli("plan", "add", "blue", "--set", "id=small", "--set-str", "name=Small",
               "--set", "disk_mb=500", "--set", "default_web_mb=400", "--set", "dns=true",
               "-i", inv)[0] == 0
    node = tmp_path / "n.yml"
    node.write_text(json.dumps({**NODE, "name": "node9"}))
    assert cli("node", "put", str(node), "-i", inv)[0] == 0
    code, out, err = cli("tenant", "add", "--set", "id=cafe2", "--set", "reseller=blue",
                         "--set", "plan=small", "--set-str", "contractor=Cafe",
                         "--set", "contact_email=a@cafe2.example", "--generate-password",
                         "-i", inv, "--json")
    assert code == 0, err
    assert len(json.loads(out)["password"]) >= 16
    assert shop.get_tenant("cafe2").node in ("node1", "node9")
    records = tmp_path / "dns.yml"
    records.write_text("- {name: '@', type: A, value: 192.0.2.7}\n")
    assert cli("domain", "add", "cafe2", "カフェ.example", "-i", inv)[0] == 0
    assert cli("dns", "set", "cafe2", "カフェ.example", "--file", str(records),
               "-i", inv)[0] == 0
    code, out, _ = cli("dns", "show", "cafe2", "カフェ.example", "-i", inv, "--json")
    assert json.loads(out) == [{"zone": "xn--hckh0k.example", "name": "@", "type": "A",
                                "value": "192.0.2.7", "ttl": 3600}]
    code, out, _ = cli("inventory", "log", "--tenant", "cafe2", "-i", inv, "--json")
    assert [e["subject"] for e in json.loads(out)][:2] == [
        "tenant cafe2: set 1 DNS record(s) of xn--hckh0k.example",
        "tenant cafe2: add domain xn--hckh0k.example"]


def test_errors_are_one_line_and_exit_non_zero(shop: Store, cli):
    inv = str(shop.root)
    version = shop.get_tenant("shop1").version
    assert cli("tenant", "change", "shop1", "--set-str", "contractor=A", "-i", inv)[0] == 0
    cases = [
        ("tenant", "change", "shop1", "--set-str", "contractor=B", "--expected-version",
         version),
        ("tenant", "change", "shop1", "--set", "disk.web_mb=99999"),
        ("tenant", "show", "nosuch"),
        ("mailbox", "add", "shop1", "x@shop1.example", "--quota-mb", "1"),  # no password
        ("tenant", "change", "shop1", "--set", "plan=basic", "--actor", "tenant:shop1"),
        ("plan", "show", "no-slash"),
        ("tenant", "change", "shop1", "--set", "contractor"),
    ]
    for argv in cases:
        code, out, err = cli(*argv, "-i", inv)
        assert code == 1, (argv, out, err)
        assert err.count("\n") == 1 and err.startswith("oemhost: error: "), (argv, err)
    head = git(shop.root, "rev-parse", "HEAD")
    assert cli("tenant", "list", "-i", inv + "/nope")[0] == 1
    assert git(shop.root, "rev-parse", "HEAD") == head


def test_inventory_check_on_a_hand_edited_inventory(shop: Store, cli):
    inv = str(shop.root)
    code, out, _ = cli("inventory", "check", "-i", inv)
    assert code == 0 and out.strip().endswith("0 errors, 0 warnings")
    path = shop.root / "state/tenants/shop1.yml"
    path.write_text(path.read_text().replace("plan: basic", "plan: gold"))
    (shop.root / "state/tenants/shop2.yml").write_text("id: shop2\nreseller: [\n")
    code, out, _ = cli("inventory", "check", "-i", inv)
    assert code == 1
    assert "error: shop1: plan: plan 'gold' of reseller 'acme' does not exist" in out
    assert any(line.startswith("error: shop2: invalid YAML") for line in out.splitlines())
    assert "warning: state/tenants/shop1.yml: not committed" in out
    code, out, _ = cli("inventory", "check", "-i", inv, "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and len(report["errors"]) == 2


def test_inventory_init(tmp_path, cli):
    target = tmp_path / "new-inv"
    assert cli("inventory", "init", str(target))[0] == 0
    assert cli("inventory", "init", str(target))[0] == 0
    assert git(target, "rev-list", "--count", "HEAD").strip() == "1"
    code, out, _ = cli("inventory", "check", "-i", str(target))
    assert code == 0 and "0 nodes" in out
