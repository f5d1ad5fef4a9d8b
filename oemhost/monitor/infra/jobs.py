"""``libvirt``, ``ipmi``, ``proxmox``: a ``reboot`` job running ``playbooks/reboot_node.yml``.

The job targets the node (the job engine's per-node lock keeps a converge from running at
the same time); the playbook runs its tasks on the controller (``delegate_to: localhost``)
with the collection module of the provider, reading secrets from files in the secrets
directory by *path*:

==========  ==========================================  =================================
provider    params (node record ``infra.params``)         module (hard reset)
==========  ==========================================  =================================
libvirt     uri, domain                                  community.libvirt.virt
                                                         (command: destroy, then start)
ipmi        host, port (623), user, password_file         community.general.ipmi_power
                                                         (state: boot)
proxmox     api_host, api_user, api_token_id,             community.proxmox.proxmox_kvm
            api_token_secret_file, vmid, validate_certs   (state: stopped force, started)
==========  ==========================================  =================================

Extra vars of the job: only ``oemhost_reboot_provider`` (the job engine accepts ids only
as extra vars, and nothing secret belongs there). The playbook reads the params from the
node's record in the inventory (``oemhost_node.infra.params``, inert data), which the
monitor has validated before submitting the job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from oemhost.errors import OemhostError, ValidationError
from oemhost.monitor.infra.base import InfraProvider, RebootOutcome, RebootRequest

PLAYBOOK = "reboot_node.yml"
_HOST = re.compile(r"^[A-Za-z0-9.:-]{1,253}$")
_WORD = re.compile(r"^[A-Za-z0-9@._!-]{1,128}$")
_URI = re.compile(r"^(qemu|xen|lxc|test)(\+[a-z]+)?://[A-Za-z0-9@._:/-]*(\?[A-Za-z0-9=&._/-]*)?$")


def _secret_file(value: Any) -> str:
    """A path relative to the secrets directory, without '..'."""
    p = PurePosixPath(str(value))
    if not value or p.is_absolute() or ".." in p.parts or not re.fullmatch(
            r"[A-Za-z0-9._/-]{1,200}", str(value)):
        raise ValueError("must be a file name inside the secrets directory")
    return str(p)


class _JobProvider(InfraProvider):
    fields: dict[str, Any] = {}   # key -> validator (callable raising ValueError) or None

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        out: dict[str, Any] = {}
        for key, (check, required, default) in self.fields.items():
            if key not in params:
                if required:
                    errors[f"infra.params.{key}"] = "required"
                elif default is not None:
                    out[key] = default
                continue
            try:
                out[key] = check(params[key])
            except (ValueError, TypeError) as exc:
                errors[f"infra.params.{key}"] = str(exc) or "bad value"
        unknown = set(params) - set(self.fields)
        if unknown:
            errors["infra.params"] = f"unknown keys: {', '.join(sorted(unknown))}"
        if errors:
            raise ValidationError(errors, subject=f"{self.name} provider")
        return out

    def reboot(self, request: RebootRequest) -> RebootOutcome:
        try:
            params = self.validate(request.node.infra_params)
        except ValidationError as exc:
            return RebootOutcome("failed", str(exc))
        if request.jobs is None or request.session is None:
            return RebootOutcome("failed", "no job engine to run the reboot")
        try:
            job_id = request.jobs.submit(
                request.session, kind="reboot", playbook=PLAYBOOK, nodes=[request.node.name],
                extravars={"oemhost_reboot_provider": self.name},
                requested_by="monitor", reason=request.reason)
        except OemhostError as exc:
            return RebootOutcome("failed", f"reboot job not submitted: {exc}")
        return RebootOutcome("submitted", f"reboot job {job_id} ({self.name}) submitted",
                             job_id=job_id, data={"params": params})


def _match(pattern: re.Pattern, what: str):
    def check(value: Any) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"must be {what}")
        return value
    return check


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError("must be a port number")
    return value


def _vmid(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 100:
        raise ValueError("must be a Proxmox VM id (>= 100)")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


class LibvirtProvider(_JobProvider):
    name = "libvirt"
    fields = {
        "uri": (_match(_URI, "a libvirt URI (qemu+ssh://host/system)"), True, None),
        "domain": (_match(_WORD, "a libvirt domain name"), True, None),
    }


class IpmiProvider(_JobProvider):
    name = "ipmi"
    fields = {
        "host": (_match(_HOST, "a BMC host name or address"), True, None),
        "port": (_port, False, 623),
        "user": (_match(_WORD, "a BMC user name"), True, None),
        "password_file": (_secret_file, True, None),
    }


class ProxmoxProvider(_JobProvider):
    name = "proxmox"
    fields = {
        "api_host": (_match(_HOST, "a Proxmox host name or address"), True, None),
        "api_user": (_match(_WORD, "a Proxmox user (monitor@pve)"), True, None),
        "api_token_id": (_match(_WORD, "a token id"), True, None),
        "api_token_secret_file": (_secret_file, True, None),
        "vmid": (_vmid, True, None),
        "validate_certs": (_bool, False, True),
    }
