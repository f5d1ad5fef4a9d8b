"""What a probe is asked to do and what it answers: plain typed values, no I/O.

A :class:`Check` names one probe of one node (``node1`` / ``https``); a probe answers a
:class:`CheckResult` with a :class:`Status` (the four Nagios states), the latency, a
one-line message and, for TLS services, the days left on the certificate. A failed check
also says *how* it failed (:class:`Failure`): the engine restarts a service that refuses
connections or hangs, not one whose certificate expires or whose monitoring login was
rejected.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

#: The twelve monitored service protocols of the seed, in display order.
SERVICE_PROTOCOLS: tuple[str, ...] = (
    "http", "https", "ftp", "ftps", "smtp", "smtps",
    "pop3", "pop3s", "imap", "imaps", "postgresql", "mysql",
)
#: Every protocol a probe exists for: ICMP ping of the node plus the twelve services.
PROTOCOLS: tuple[str, ...] = ("ping", *SERVICE_PROTOCOLS)

DEFAULT_PORTS: Mapping[str, int] = MappingProxyType({
    "http": 80, "https": 443, "ftp": 21, "ftps": 21, "smtp": 25, "smtps": 465,
    "pop3": 110, "pop3s": 995, "imap": 143, "imaps": 993, "postgresql": 5432, "mysql": 3306,
})

#: Which probes a node's service (the node record's ``services`` list) brings.
#: ``host`` is the node itself (ping); an incident is kept per node + one of these keys.
SERVICE_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "host": ("ping",),
    "web": ("http", "https"),
    "ftp": ("ftp", "ftps"),
    "mail": ("smtp", "smtps", "pop3", "pop3s", "imap", "imaps"),
    "mariadb": ("mysql",),
    "postgresql": ("postgresql",),
})
GROUP_OF: Mapping[str, str] = MappingProxyType(
    {proto: group for group, protos in SERVICE_GROUPS.items() for proto in protos})

#: Protocols spoken over TLS from the first byte, and those upgraded in-band.
IMPLICIT_TLS = frozenset({"https", "smtps", "pop3s", "imaps"})
STARTTLS = frozenset({"ftps"})


class Status(enum.StrEnum):
    """The four states of a check, as Nagios plugins report them."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def code(self) -> int:
        """The Nagios plugin exit code (0 ok, 1 warning, 2 critical, 3 unknown)."""
        return _CODES[self]

    @property
    def is_problem(self) -> bool:
        return self is not Status.OK


_CODES = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2, Status.UNKNOWN: 3}


class Failure(enum.StrEnum):
    """Why a check is not OK. Only the *restartable* kinds call for a service restart."""

    CONNECT = "connect"      # refused, unreachable, reset before the greeting
    TIMEOUT = "timeout"      # no complete answer within the check's timeout
    PROTOCOL = "protocol"    # connected, but the greeting / reply was wrong
    TLS = "tls"              # the TLS handshake failed
    CERT = "cert"            # the certificate expires soon, has expired or does not verify
    AUTH = "auth"            # the monitoring login was refused
    STATUS = "status"        # an application-level status outside the expected range
    SLOW = "slow"            # answered, but slower than the warning threshold
    LOSS = "loss"            # ICMP packet loss below total
    CONFIG = "config"        # the check itself cannot run (no credentials, no permission)

    @property
    def restartable(self) -> bool:
        return self in _RESTARTABLE


_RESTARTABLE = frozenset({Failure.CONNECT, Failure.TIMEOUT, Failure.PROTOCOL, Failure.TLS})


@dataclass(frozen=True, slots=True)
class Credentials:
    """A monitoring login. Its ``repr`` never shows the password."""

    user: str
    password: str = field(repr=False)
    database: str = ""


@dataclass(frozen=True, slots=True)
class Check:
    """One probe of one node: protocol, where to connect and how long to wait.

    ``params`` holds protocol options (``path``, ``host``, ``expect``, ``tls_verify``,
    ``cert_warn_days``...); see :mod:`oemhost.monitor.probes` for each protocol's keys.
    """

    node: str
    protocol: str
    address: str
    port: int = 0
    timeout: float = 10.0
    interval: float = 600.0
    params: Mapping[str, Any] = field(default_factory=dict)
    credentials: Credentials | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.protocol)

    @property
    def group(self) -> str:
        return GROUP_OF[self.protocol]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one probe run found. ``latency`` is in seconds (None when nothing answered)."""

    node: str
    protocol: str
    status: Status
    message: str
    checked_at: datetime
    latency: float | None = None
    failure: Failure | None = None
    cert_days_left: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.protocol)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def down(self) -> bool:
        """The service did not answer correctly (as opposed to answering with a warning)."""
        return self.status is Status.CRITICAL

    def line(self) -> str:
        lat = f" {self.latency * 1000:.1f}ms" if self.latency is not None else ""
        return f"{self.node} {self.protocol} {self.status.value.upper()}{lat}: {self.message}"
