"""``lab``: restart a lab node (systemd-nspawn) through ``oemhost.lab``.

Params (the lab writes them into its node records): ``lab`` (the lab's name, default
"lab"), ``node`` (the lab node's name, default the node's), ``project_dir`` (the checkout
the lab belongs to, default this installation's). Calls ``Lab.restart(node, wait=False)``:
kill what is left of the node, boot it again; the monitor verifies it after
``reboot_grace`` like any other reboot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from oemhost.errors import OemhostError, ValidationError
from oemhost.monitor.infra.base import InfraProvider, RebootOutcome, RebootRequest

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


class LabProvider(InfraProvider):
    name = "lab"

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        errors = {}
        for key in ("lab", "node"):
            value = params.get(key)
            if value is not None and (not isinstance(value, str) or not _NAME.match(value)):
                errors[f"infra.params.{key}"] = "must be a lab name ([a-z][a-z0-9-]*)"
        project = params.get("project_dir")
        if project is not None and (not isinstance(project, str)
                                    or not Path(project).is_absolute()):
            errors["infra.params.project_dir"] = "must be an absolute path"
        unknown = set(params) - {"lab", "node", "project_dir"}
        if unknown:
            errors["infra.params"] = f"unknown keys: {', '.join(sorted(unknown))}"
        if errors:
            raise ValidationError(errors, subject="lab provider")
        return {"lab": params.get("lab") or "lab", "node": params.get("node"),
                "project_dir": project}

    def reboot(self, request: RebootRequest) -> RebootOutcome:
        try:
            params = self.validate(request.node.infra_params)
        except ValidationError as exc:
            return RebootOutcome("failed", str(exc))
        try:
            from oemhost.lab import Lab
        except ImportError:
            return RebootOutcome("failed", "the lab (oemhost.lab) is not installed")
        name = params["node"] or request.node.name
        project = Path(params["project_dir"]) if params["project_dir"] else (
            request.settings.project_dir if request.settings is not None else None)
        if project is None:
            return RebootOutcome("failed", "lab provider: no project directory")
        try:
            Lab(project, params["lab"]).restart(name, wait=False)
        except OemhostError as exc:
            return RebootOutcome("failed", f"lab restart of {name}: {exc}")
        return RebootOutcome("done", f"lab node {name} restarted")
