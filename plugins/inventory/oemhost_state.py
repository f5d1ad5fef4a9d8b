# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Inventory plugin: the hosting state under ``state/`` as hosts, groups and node vars."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

try:
    from oemhost.store.model import SERVICES, SHARED_OWNER
    from oemhost.store.snapshot import plugin_view
except ImportError:  # a checkout used without `pip install -e .`: the package is two levels up
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from oemhost.store.model import SERVICES, SHARED_OWNER
    from oemhost.store.snapshot import plugin_view

DOCUMENTATION = r"""
name: oemhost_state
short_description: Hosting nodes, their groups and connection settings from an oemhost inventory
description:
  - Reads the hosting state that the oemhost store writes under C(state/) next to the
    source file (C(state/nodes/*.yml), C(state/resellers/*.yml), C(state/plans/*/*.yml),
    C(state/tenants/*.yml)) and validates it with the store's own rules.
  - Every node becomes a host in C(hosting_nodes), in one group per service it runs
    (C(web), C(mail), C(ftp), C(mariadb), C(postgresql), C(dns)) and in C(owner_<reseller>)
    or C(owner_shared) (hyphens in reseller ids become underscores).
  - Host variables set here are C(ansible_host), C(ansible_user), C(ansible_port),
    C(ansible_ssh_private_key_file), C(ansible_ssh_common_args) (from the node record),
    C(oemhost_node) (the node record), C(oemhost_inventory_errors) (validation errors that
    block this node) and C(oemhost_tenant_ids) (ids of the tenants placed on it).
  - The full tenant records (C(oemhost_tenants), C(oemhost_removed_tenants)) come from the
    companion vars plugin C(oemhost_tenants), only for the hosts a play targets.
  - Values from this plugin are not trusted as templates by Ansible, so user-supplied text
    in the state files is never rendered.
  - Parsed files are cached in C(.oemhost-cache/) next to the source, keyed by file stat
    data and content hash; see docs/INVENTORY.md of the oemhost project.
options:
  plugin:
    description: Marks the file as a source for this plugin.
    required: true
    choices: ['oemhost_state']
"""

EXAMPLES = r"""
# inventories/prod/oemhost.yml (the file name must be oemhost.yml or oemhost.yaml)
plugin: oemhost_state

# ansible-playbook -i inventories/prod playbooks/site.yml --limit node1
"""


CONNECTION_VARS = {
    "user": "ansible_user",
    "port": "ansible_port",
    "private_key_file": "ansible_ssh_private_key_file",
    "ssh_common_args": "ansible_ssh_common_args",
}


def owner_group(owner: str) -> str:
    return "owner_" + owner.replace("-", "_")


class InventoryModule(BaseInventoryPlugin):
    NAME = "oemhost_state"

    def verify_file(self, path):
        return super().verify_file(path) and os.path.basename(path) in (
            "oemhost.yml", "oemhost.yaml")

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        root = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(os.path.join(root, "state")):
            raise AnsibleParserError(f"{root}/state is missing: not an oemhost inventory")
        view = plugin_view(root, reload=True)

        inventory.add_group("hosting_nodes")
        for service in SERVICES:
            inventory.add_group(service)
        for name, info in sorted(view.data["nodes"].items()):
            inventory.add_host(name, group="hosting_nodes")
            node = info["node"]
            if node is not None:
                for service in node["services"]:
                    inventory.add_host(name, group=service)
                group = owner_group(node["owner"] if node["owner"] != SHARED_OWNER else "shared")
                inventory.add_group(group)
                inventory.add_host(name, group=group)
                inventory.set_variable(name, "ansible_host", node["address"])
                for key, var in CONNECTION_VARS.items():
                    if node["connection"].get(key) is not None:
                        inventory.set_variable(name, var, node["connection"][key])
            inventory.set_variable(name, "oemhost_node", node)
            inventory.set_variable(name, "oemhost_inventory_errors", info["errors"])
            inventory.set_variable(name, "oemhost_tenant_ids", info["tenant_ids"])
