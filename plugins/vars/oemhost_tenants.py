# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Vars plugin: each node's tenants, loaded only when a play needs that node's variables."""

from __future__ import annotations

import sys
from pathlib import Path

from ansible.inventory.host import Host
from ansible.plugins.vars import BaseVarsPlugin
from ansible.utils.display import Display

try:
    from oemhost.store.snapshot import is_inventory, plugin_view
except ImportError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from oemhost.store.snapshot import is_inventory, plugin_view

DOCUMENTATION = r"""
name: oemhost_tenants
short_description: The tenants placed on a hosting node, from an oemhost inventory
description:
  - For a host of an oemhost inventory (see the C(oemhost_state) inventory plugin) sets
    C(oemhost_tenants), the tenants placed on that node with status active or suspended,
    and C(oemhost_removed_tenants), those with status removed. Each entry is the tenant
    record plus C(limits) (its plan, resolved) and C(reseller_brand).
  - Tenants whose files fail validation are left out; the reason is in the host's
    C(oemhost_inventory_errors), which playbooks assert is empty before changing a node.
  - Runs only when a task needs the host's variables (stage C(task)), so a play limited to
    one node reads only that node's tenants, and C(ansible-inventory --list) stays small.
    Set the stage to C(all) to see the variables with C(ansible-inventory --host NODE).
  - Values from this plugin are plain data that Ansible does not trust as templates.
options:
  stage:
    description: When the plugin runs (see the vars_plugin_staging fragment).
    type: str
    default: task
    choices: ['all', 'task', 'inventory']
    ini:
      - key: stage
        section: vars_oemhost_tenants
    env:
      - name: ANSIBLE_VARS_OEMHOST_TENANTS_STAGE
"""


display = Display()

_IS_INVENTORY: dict[str, bool] = {}
_WARNED: set[str] = set()


class VarsModule(BaseVarsPlugin):
    def get_vars(self, loader, path, entities, cache=True):
        hosts = [e for e in entities if isinstance(e, Host)]
        if not hosts:
            return {}
        known = _IS_INVENTORY.get(path)
        if known is None:
            known = _IS_INVENTORY[path] = is_inventory(path)
        if not known:
            return {}
        view = plugin_view(path)
        data: dict = {}
        for host in hosts:
            if host.name in view.data["nodes"]:
                data.update(view.node_vars(host.name))
        for late in view.late_changes:
            if late not in _WARNED:
                _WARNED.add(late)
                display.warning(f"oemhost: {late} changed while the play was loading; "
                                "it is left out of this run")
        return data
