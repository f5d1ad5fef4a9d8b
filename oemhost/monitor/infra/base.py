"""The provider interface: validate params, reboot a node, report what happened."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from oemhost.config import Settings
from oemhost.monitor.inventory import NodeInfo
from oemhost.monitor.jobs import JobGateway


@dataclass(frozen=True)
class RebootRequest:
    node: NodeInfo
    reason: str
    settings: Settings
    session: Session | None = None
    jobs: JobGateway | None = None


@dataclass(frozen=True)
class RebootOutcome:
    """``done`` (the provider rebooted it), ``submitted`` (a job will; see ``job_id``),
    or ``failed`` (nothing happened; ``message`` says why)."""

    status: str
    message: str
    job_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


class InfraProvider(abc.ABC):
    name: str = ""

    @abc.abstractmethod
    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Checked, normalised params; raises ValidationError naming the bad key."""

    @abc.abstractmethod
    def reboot(self, request: RebootRequest) -> RebootOutcome:
        """Reboot (hard reset) the node's machine or VM. Never raises for a failed reboot:
        the outcome says it failed."""
