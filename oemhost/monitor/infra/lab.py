"""``lab``: restart a lab node (systemd-nspawn) through ``oemhost.lab``.

Params: ``{lab: <lab name>, node: <lab node name>}`` (both default to the node's name and
the default lab). Calls ``oemhost.lab.restart_node(settings, node, lab=lab)``, the lab's
public function to restart a node by name (kill what is left of it, boot it again).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
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
        unknown = set(params) - {"lab", "node"}
        if unknown:
            errors["infra.params"] = f"unknown keys: {', '.join(sorted(unknown))}"
        if errors:
            raise ValidationError(errors, subject="lab provider")
        return {"lab": params.get("lab"), "node": params.get("node")}

    def reboot(self, request: RebootRequest) -> RebootOutcome:
        try:
            params = self.validate(request.node.infra_params)
        except ValidationError as exc:
            return RebootOutcome("failed", str(exc))
        try:
            lab = importlib.import_module("oemhost.lab")
        except ImportError:
            return RebootOutcome("failed", "the lab (oemhost.lab) is not installed")
        restart = getattr(lab, "restart_node", None)
        if restart is None:
            return RebootOutcome("failed", "oemhost.lab has no restart_node()")
        name = params["node"] or request.node.name
        try:
            restart(request.settings, name, lab=params["lab"])
        except OemhostError as exc:
            return RebootOutcome("failed", f"lab restart of {name}: {exc}")
        return RebootOutcome("done", f"lab node {name} restarted")
