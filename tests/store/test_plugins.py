"""The inventory and vars plugins under the real ansible-core (2.21)."""

import json

import pytest

from oemhost.store import Store

from .conftest import NODE, git, run_ansible, tenant_record

PLAY = """\
- name: Dump what a role sees
  hosts: hosting_nodes
  gather_facts: false
  connection: local
  tasks:
    - name: Refuse to touch a node with inventory errors
      ansible.builtin.assert:
        that: oemhost_inventory_errors | length == 0
        fail_msg: "{{ oemhost_inventory_errors }}"
    - name: Write the variables
      ansible.builtin.copy:
        content: "{{ {'tenants': oemhost_tenants, 'removed': oemhost_removed_tenants,
                      'node': oemhost_node, 'host': ansible_host} | to_json }}"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
"""


@pytest.fixture
def fleet(store: Store) -> Store:
    store.add_reseller({"id": "blue-sky", "company": "Blue Sky", "contacts": [],
                        "brand": {"display_name": "BlueSky"}}, actor="ops:a")
    store.add_plan("blue-sky", {"id": "web", "name": "Web", "disk_mb": 500,
                                "default_web_mb": 500}, actor="ops:a")
    store.put_node({**NODE, "name": "node2", "address": "127.0.0.2", "owner": "blue-sky",
                    "services": ["web"],
                    "connection": {"user": "deploy", "port": 2222,
                                   "private_key_file": "/srv/keys/id_ed25519",
                                   "ssh_common_args": "-o StrictHostKeyChecking=no "
                                                      "-o UserKnownHostsFile=/dev/null"}},
                   actor="lab")
    store.add_tenant(tenant_record("shop1", domains=["shop1.example"]),
                     password="tenant-password-1", actor="ops:a")
    store.add_tenant(tenant_record("gone1"), password="tenant-password-1", actor="ops:a")
    store.remove_tenant("gone1", actor="ops:a", reason="cancelled")
    store.add_tenant(tenant_record("paused1"), password="tenant-password-1", actor="ops:a")
    store.set_tenant_status("paused1", "suspended", actor="ops:a", reason="unpaid")
    store.add_tenant(tenant_record("sky1", reseller="blue-sky", plan="web", node="node2"),
                     password="tenant-password-1", actor="ops:a")
    return store


def inventory_list(inv, *extra_env):
    proc = run_ansible(["ansible-inventory", "-i", str(inv), "--list"], cwd=inv.parent)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def plain(value):
    """Strip ansible-inventory's {"__ansible_unsafe": ...} markers."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def test_hosts_groups_and_connection_vars(fleet):
    data, stderr = inventory_list(fleet.root)
    assert "WARNING" not in stderr, stderr  # state/ and secrets/ are not parsed as sources
    assert sorted(data["hosting_nodes"]["hosts"]) == ["node1", "node2"]
    assert data["mail"]["hosts"] == ["node1"]
    assert data["owner_shared"]["hosts"] == ["node1"]
    assert data["owner_blue_sky"]["hosts"] == ["node2"]
    hv = plain(data["_meta"]["hostvars"])
    assert hv["node2"]["ansible_host"] == "127.0.0.2"
    assert hv["node2"]["ansible_user"] == "deploy"
    assert hv["node2"]["ansible_port"] == 2222
    assert hv["node2"]["ansible_ssh_private_key_file"] == "/srv/keys/id_ed25519"
    assert hv["node2"]["ansible_ssh_common_args"] == (
        "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null")
    assert "ansible_user" not in hv["node1"]
    assert hv["node1"]["oemhost_inventory_errors"] == []
    assert hv["node1"]["oemhost_tenant_ids"] == ["gone1", "paused1", "shop1"]
    assert hv["node1"]["oemhost_node"]["infra"]["provider"] == "lab"
    # the full tenant records are left to plays (the vars plugin runs at task stage)
    assert "oemhost_tenants" not in hv["node1"]


def test_secrets_directory_is_never_parsed_as_inventory(fleet):
    (fleet.root / "secrets" / "monitor_password").write_text("s3cret-as-host-name\n")
    data, stderr = inventory_list(fleet.root)
    assert "s3cret" not in json.dumps(data) + stderr


def test_a_play_gets_exactly_the_nodes_tenants(fleet, tmp_path):
    (tmp_path / "play.yml").write_text(PLAY)
    proc = run_ansible(["ansible-playbook", "-i", str(fleet.root), "play.yml",
                        "-e", f"out_dir={tmp_path}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    node1 = json.loads((tmp_path / "node1.json").read_text())
    node2 = json.loads((tmp_path / "node2.json").read_text())
    assert [t["id"] for t in node1["tenants"]] == ["paused1", "shop1"]
    assert [t["status"] for t in node1["tenants"]] == ["suspended", "active"]
    assert [t["id"] for t in node1["removed"]] == ["gone1"]
    assert [t["id"] for t in node2["tenants"]] == ["sky1"] and node2["removed"] == []
    shop1 = node1["tenants"][1]
    assert shop1["limits"]["max_mailboxes"] == 3 and shop1["limits"]["id"] == "basic"
    assert shop1["reseller_brand"]["display_name"] == "ACME Web"
    assert shop1["domains"][0]["name"] == "shop1.example"
    assert node2["tenants"][0]["reseller_brand"]["display_name"] == "BlueSky"
    assert node1["host"] == "127.0.0.1"


def test_a_limited_play_loads_only_its_node(fleet, tmp_path, monkeypatch):
    (tmp_path / "play.yml").write_text(PLAY)
    proc = run_ansible(["ansible-playbook", "-i", str(fleet.root / "oemhost.yml"), "play.yml",
                        "-l", "node2", "-e", f"out_dir={tmp_path}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["node2.json"]


def test_inventory_errors_stop_the_play_and_drop_the_bad_tenant(fleet, tmp_path):
    path = fleet.root / "state/tenants/shop1.yml"
    path.write_text(path.read_text().replace("docroot: public_html", "docroot: ../../etc"))
    git(fleet.root, "commit", "-qam", "bad hand edit")
    (tmp_path / "play.yml").write_text(PLAY.replace(
        "    - name: Refuse", "    - name: Dump first\n      ansible.builtin.copy:\n"
        "        content: \"{{ {'tenants': oemhost_tenants, 'errors': oemhost_inventory_errors}"
        " | to_json }}\"\n        dest: \"{{ out_dir }}/{{ inventory_hostname }}-pre.json\"\n"
        "        mode: \"0600\"\n    - name: Refuse"))
    proc = run_ansible(["ansible-playbook", "-i", str(fleet.root), "play.yml",
                        "-e", f"out_dir={tmp_path}"], cwd=tmp_path)
    assert proc.returncode != 0
    assert "shop1: domains[0].docroot:" in proc.stdout
    pre = json.loads((tmp_path / "node1-pre.json").read_text())
    assert [t["id"] for t in pre["tenants"]] == ["paused1"]
    assert pre["errors"] and all(e.startswith("shop1: ") for e in pre["errors"])
    # node2 is not blocked by node1's tenant
    assert json.loads((tmp_path / "node2.json").read_text())["tenants"][0]["id"] == "sky1"


def test_vars_stage_all_shows_tenants_in_ansible_inventory(fleet):
    import subprocess

    from .conftest import BIN, ansible_env

    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(fleet.root), "--host",
                           "node2"], capture_output=True, text=True, cwd=fleet.root.parent,
                          env=ansible_env({"ANSIBLE_VARS_OEMHOST_TENANTS_STAGE": "all"}))
    assert proc.returncode == 0, proc.stderr
    assert [t["id"] for t in plain(json.loads(proc.stdout))["oemhost_tenants"]] == ["sky1"]
