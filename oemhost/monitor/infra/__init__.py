"""Level 2: rebooting a node's infrastructure through its provider.

A node record names its provider (``infra: {provider: ..., params: {...}}``):

- ``command``: run an operator-given command (argv list, no shell) on the controller;
- ``lab``: restart a lab node (``oemhost.lab``);
- ``libvirt``, ``ipmi``, ``proxmox``: a ``reboot`` job of the job engine running
  ``playbooks/reboot_node.yml``, which uses the maintained collection modules
  (``community.libvirt.virt``, ``community.general.ipmi_power``,
  ``community.proxmox.proxmox_kvm``).

Every provider validates its params before use and never receives secrets in job
variables (only the *path* of a secret file in the secrets directory). The rate limit (one
reboot per node per window, a cap per incident) is :mod:`oemhost.monitor.infra.limits`.
"""

from __future__ import annotations

from oemhost.errors import ValidationError
from oemhost.monitor.infra.base import InfraProvider, RebootOutcome, RebootRequest
from oemhost.monitor.infra.command import CommandProvider
from oemhost.monitor.infra.jobs import IpmiProvider, LibvirtProvider, ProxmoxProvider
from oemhost.monitor.infra.lab import LabProvider

PROVIDERS: dict[str, type[InfraProvider]] = {
    "command": CommandProvider,
    "lab": LabProvider,
    "libvirt": LibvirtProvider,
    "ipmi": IpmiProvider,
    "proxmox": ProxmoxProvider,
}

__all__ = ["PROVIDERS", "InfraProvider", "RebootOutcome", "RebootRequest", "provider_for"]


def provider_for(name: str | None) -> InfraProvider:
    if name not in PROVIDERS:
        raise ValidationError({"infra.provider": f"unknown provider {name!r}; one of "
                                                 f"{', '.join(PROVIDERS)}"})
    return PROVIDERS[name]()
