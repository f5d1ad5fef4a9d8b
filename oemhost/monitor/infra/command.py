"""``command``: an operator-given command reboots the node (argv, no shell).

Params::

    argv: ["/usr/local/sbin/power-cycle", "--host", "{address}", "--name", "{node}"]
    timeout: 120

``{node}`` and ``{address}`` inside an argument are replaced by the node's (pattern-checked)
name and address; nothing else is interpreted. The command runs on the controller with
``OEMHOST_NODE`` / ``OEMHOST_ADDRESS`` in its environment; exit status 0 means done.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Any

from oemhost.errors import ValidationError
from oemhost.monitor.infra.base import InfraProvider, RebootOutcome, RebootRequest


class CommandProvider(InfraProvider):
    name = "command"

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        argv = params.get("argv")
        errors = {}
        if (not isinstance(argv, list) or not argv
                or not all(isinstance(a, str) and a and "\0" not in a for a in argv)):
            errors["infra.params.argv"] = "must be a non-empty list of strings"
        elif not os.path.isabs(argv[0]):
            errors["infra.params.argv"] = "the program must be an absolute path"
        timeout = params.get("timeout", 120)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            errors["infra.params.timeout"] = "must be a positive number of seconds"
        unknown = set(params) - {"argv", "timeout"}
        if unknown:
            errors["infra.params"] = f"unknown keys: {', '.join(sorted(unknown))}"
        if errors:
            raise ValidationError(errors, subject="command provider")
        return {"argv": list(argv), "timeout": float(timeout)}

    def reboot(self, request: RebootRequest) -> RebootOutcome:
        try:
            params = self.validate(request.node.infra_params)
        except ValidationError as exc:
            return RebootOutcome("failed", str(exc))
        node = request.node
        argv = [a.replace("{node}", node.name).replace("{address}", node.address)
                for a in params["argv"]]
        env = dict(os.environ, OEMHOST_NODE=node.name, OEMHOST_ADDRESS=node.address)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, env=env,
                                  timeout=params["timeout"], stdin=subprocess.DEVNULL,
                                  check=False)
        except subprocess.TimeoutExpired:
            return RebootOutcome("failed", f"{argv[0]} did not finish within "
                                           f"{params['timeout']:g} s")
        except OSError as exc:
            return RebootOutcome("failed", f"{argv[0]}: {exc.strerror}")
        tail = " ".join((proc.stderr or proc.stdout or "").split())[-300:]
        if proc.returncode != 0:
            return RebootOutcome("failed", f"{argv[0]} exited with {proc.returncode}: {tail}")
        return RebootOutcome("done", f"{argv[0]} done{': ' + tail if tail else ''}")
