"""The monitor's settings: ``[monitor]`` and its sub-tables, validated once.

Every key has a production default (probe every 10 minutes, 3 attempts 30 s apart, notice
after 10 minutes of outage, report by the next business day). Unknown keys and bad values
raise :class:`~oemhost.errors.ValidationError` naming the key, so a typo never silently
falls back to a default. See docs/MONITOR.md for the full table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from email_validator import EmailNotValidError, validate_email

from oemhost.config import Settings
from oemhost.errors import ValidationError
from oemhost.monitor.business import BusinessCalendar
from oemhost.monitor.checks import DEFAULT_PORTS, PROTOCOLS
from oemhost.monitor.probes.http import parse_ranges

#: The systemd unit a failed protocol's level-1 restart acts on (override: [monitor.units]).
DEFAULT_UNITS: Mapping[str, str] = MappingProxyType({
    "http": "apache2", "https": "apache2", "ftp": "pure-ftpd", "ftps": "pure-ftpd",
    "smtp": "postfix", "smtps": "postfix", "pop3": "dovecot", "pop3s": "dovecot",
    "imap": "dovecot", "imaps": "dovecot", "postgresql": "postgresql", "mysql": "mariadb",
})

#: Protocol parameters a check may carry (see each probe's docstring).
PARAM_KEYS = frozenset({
    "path", "host", "sni", "ok_status", "warn_status", "tls_verify", "ca_file",
    "cert_warn_days", "cert_crit_days", "helo", "starttls", "sslmode", "gssencmode", "tls",
    "packets", "packet_interval", "wait", "warn_loss", "warn_rtt", "warn_latency",
})
_CHECK_KEYS = frozenset({"interval", "timeout", "port", "max_attempts", "enabled"}) | PARAM_KEYS
_UNIT = re.compile(r"^[a-z0-9][a-z0-9@._-]{0,63}$")  # what the job engine takes as an id
_LANGS = ("ja", "en")


@dataclass(frozen=True)
class CheckConfig:
    interval: float
    timeout: float
    port: int
    max_attempts: int
    enabled: bool
    params: Mapping[str, Any]


@dataclass(frozen=True)
class DbLogin:
    user: str = "oemhost_monitor"
    # what roles/mariadb and roles/postgresql write: secrets/<node>/<engine>_monitor
    password_file: str = "{node}/{engine}_monitor"  # noqa: S105 - a file name
    postgresql_database: str = "postgres"
    mysql_database: str = ""


@dataclass(frozen=True)
class MonitorConfig:
    interval: float = 600.0
    timeout: float = 10.0
    concurrency: int = 500
    processes: int = 1
    max_attempts: int = 3
    retry_interval: float = 30.0
    followup_interval: float = 30.0
    misfire_grace_time: int = 300
    notice_after: float = 600.0
    report_send: str = "next_business_day"
    report_all: bool = False
    retention_days: float = 7.0
    flap_low: float = 25.0
    flap_high: float = 50.0
    max_restarts: int = 2
    restart_backoff: float = 60.0
    restarts_per_hour: int = 4
    job_timeout: float = 900.0
    reboot_window: float = 3600.0
    reboots_per_incident: int = 1
    reboot_grace: float = 240.0
    ssh_timeout: float = 15.0
    ops_contacts: tuple[str, ...] = ()
    ops_language: str = "ja"
    remediation: bool = True
    units: Mapping[str, str] = DEFAULT_UNITS
    db: DbLogin = DbLogin()
    business: BusinessCalendar = BusinessCalendar()
    protocols: Mapping[str, CheckConfig] = field(default_factory=dict)
    nodes: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)

    def check_config(self, node: str, protocol: str) -> CheckConfig:
        """The protocol's settings with the node's overrides (``[monitor.nodes.N.P]``)."""
        base = self.protocols[protocol]
        over = self.nodes.get(node, {}).get(protocol)
        if not over:
            return base
        params = dict(base.params)
        params.update({k: v for k, v in over.items() if k in PARAM_KEYS})
        return CheckConfig(
            interval=float(over.get("interval", base.interval)),
            timeout=float(over.get("timeout", base.timeout)),
            port=int(over.get("port", base.port)),
            max_attempts=int(over.get("max_attempts", base.max_attempts)),
            enabled=bool(over.get("enabled", base.enabled)),
            params=params)

    @property
    def tick(self) -> float:
        """How often the sweep job runs: the shortest interval of any check."""
        intervals = [c.interval for c in self.protocols.values() if c.enabled]
        intervals += [float(o["interval"]) for n in self.nodes.values() for o in n.values()
                      if "interval" in o]
        return min([self.interval, *intervals])


_SCALARS: dict[str, tuple[type, float | None]] = {
    # key: (type, minimum)
    "interval": (float, 1), "timeout": (float, 0.1), "concurrency": (int, 1),
    "processes": (int, 1), "max_attempts": (int, 1), "retry_interval": (float, 0),
    "followup_interval": (float, 1), "misfire_grace_time": (int, 1),
    "notice_after": (float, 0), "retention_days": (float, 0.01), "flap_low": (float, 0),
    "flap_high": (float, 0), "max_restarts": (int, 0), "restart_backoff": (float, 0),
    "restarts_per_hour": (int, 0), "job_timeout": (float, 1), "reboot_window": (float, 0),
    "reboots_per_incident": (int, 0), "reboot_grace": (float, 0), "ssh_timeout": (float, 1),
}
_TOP_KEYS = set(_SCALARS) | {"report_send", "report_all", "ops_contacts", "ops_language",
                             "remediation", "units", "db", "business", "protocols", "nodes"}


def _number(value: Any, kind: type, minimum: float | None, key: str,
            errors: dict[str, str]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors[key] = "must be a number"
        return None
    if kind is int and int(value) != value:
        errors[key] = "must be a whole number"
        return None
    if minimum is not None and value < minimum:
        errors[key] = f"must be at least {minimum:g}"
        return None
    return kind(value)


def _check_table(table: Mapping[str, Any], key: str, errors: dict[str, str]) -> None:
    if not isinstance(table, Mapping):
        errors[key] = "must be a table"
        return
    for k, v in table.items():
        if k not in _CHECK_KEYS:
            errors[f"{key}.{k}"] = "unknown key"
        elif k in ("interval", "timeout"):
            _number(v, float, 1 if k == "interval" else 0.1, f"{key}.{k}", errors)
        elif k in ("port", "max_attempts"):
            n = _number(v, int, 1, f"{key}.{k}", errors)
            if k == "port" and n is not None and n > 65535:
                errors[f"{key}.{k}"] = "must be a TCP port"
        elif k in ("ok_status", "warn_status"):
            try:
                parse_ranges(v)
            except ValueError as exc:
                errors[f"{key}.{k}"] = str(exc)
        elif k in ("path", "host", "sni", "helo") and (
                not isinstance(v, str) or not re.fullmatch(r"[\x21-\x7e]{1,255}", v)):
            errors[f"{key}.{k}"] = "must be visible ASCII without spaces"


def load_monitor_config(settings: Settings | Mapping[str, Any]) -> MonitorConfig:
    """Parse ``[monitor]`` (a Settings object or the table itself)."""
    section = settings.section("monitor") if isinstance(settings, Settings) else settings
    section = dict(section or {})
    errors: dict[str, str] = {}
    for k in sorted(set(section) - _TOP_KEYS):
        errors[k] = "unknown key"
    kw: dict[str, Any] = {}
    for key, (kind, minimum) in _SCALARS.items():
        if key in section:
            value = _number(section[key], kind, minimum, key, errors)
            if value is not None:
                kw[key] = value
    if "report_send" in section:
        if section["report_send"] not in ("next_business_day", "immediately"):
            errors["report_send"] = "must be next_business_day or immediately"
        else:
            kw["report_send"] = section["report_send"]
    for key in ("report_all", "remediation"):
        if key in section:
            if not isinstance(section[key], bool):
                errors[key] = "must be true or false"
            else:
                kw[key] = section[key]
    contacts = []
    for i, addr in enumerate(section.get("ops_contacts", [])):
        try:
            contacts.append(validate_email(str(addr), check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            errors[f"ops_contacts[{i}]"] = str(exc)
    kw["ops_contacts"] = tuple(contacts)
    if "ops_language" in section:
        if section["ops_language"] not in _LANGS:
            errors["ops_language"] = f"must be one of {', '.join(_LANGS)}"
        else:
            kw["ops_language"] = section["ops_language"]
    units = dict(DEFAULT_UNITS)
    for proto, unit in dict(section.get("units", {})).items():
        if proto not in DEFAULT_UNITS:
            errors[f"units.{proto}"] = "unknown protocol"
        elif not isinstance(unit, str) or not _UNIT.match(unit):
            errors[f"units.{proto}"] = "not a systemd unit name"
        else:
            units[proto] = unit
    kw["units"] = MappingProxyType(units)
    db = dict(section.get("db", {}))
    for k in sorted(set(db) - {"user", "password_file", "postgresql_database",
                               "mysql_database"}):
        errors[f"db.{k}"] = "unknown key"
    for k, v in db.items():
        if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9_./{}-]*", v) or ".." in v:
            errors[f"db.{k}"] = "must be a plain name"
    if not any(k.startswith("db.") for k in errors):
        kw["db"] = DbLogin(**db)
    try:
        kw["business"] = BusinessCalendar.from_settings(section.get("business"))
    except ValidationError as exc:
        errors.update(exc.errors)

    default_interval = kw.get("interval", 600.0)
    default_timeout = kw.get("timeout", 10.0)
    default_attempts = kw.get("max_attempts", 3)
    raw_protocols = dict(section.get("protocols", {}))
    protocols = {}
    for proto in PROTOCOLS:
        table = raw_protocols.pop(proto, {})
        _check_table(table, f"protocols.{proto}", errors)
        if not isinstance(table, Mapping):
            continue
        protocols[proto] = CheckConfig(
            interval=float(table.get("interval", default_interval)),
            timeout=float(table.get("timeout", default_timeout)),
            port=int(table.get("port", DEFAULT_PORTS.get(proto, 0))),
            max_attempts=int(table.get("max_attempts", default_attempts)),
            enabled=bool(table.get("enabled", True)),
            params=MappingProxyType({k: v for k, v in table.items() if k in PARAM_KEYS}))
    for proto in raw_protocols:
        errors[f"protocols.{proto}"] = "unknown protocol"
    kw["protocols"] = MappingProxyType(protocols)
    nodes: dict[str, dict[str, Mapping[str, Any]]] = {}
    for node, table in dict(section.get("nodes", {})).items():
        if not isinstance(table, Mapping):
            errors[f"nodes.{node}"] = "must be a table"
            continue
        for proto, over in table.items():
            if proto not in PROTOCOLS:
                errors[f"nodes.{node}.{proto}"] = "unknown protocol"
                continue
            _check_table(over, f"nodes.{node}.{proto}", errors)
        nodes[node] = dict(table)
    kw["nodes"] = MappingProxyType(nodes)
    if kw.get("flap_low", 25.0) >= kw.get("flap_high", 50.0):
        errors["flap_low"] = "must be below flap_high"
    if errors:
        raise ValidationError(errors, subject="monitor settings")
    return MonitorConfig(**kw)


def db_password(settings: Settings, cfg: MonitorConfig, node: str,
                engine: str) -> str | None:
    """The monitoring login's password for ``node`` and ``engine`` (``mariadb`` |
    ``postgresql``) from the secrets directory, if present.

    ``password_file`` is relative to the secrets directory; ``{node}`` and ``{engine}`` in
    it are replaced (node names are pattern-checked by the store). The default is where
    the database roles write it: ``<node>/mariadb_monitor``, ``<node>/postgresql_monitor``."""
    if engine not in ("mariadb", "postgresql"):
        raise ValueError(f"unknown database engine {engine!r}")
    rel = cfg.db.password_file.replace("{node}", node).replace("{engine}", engine)
    path = (Path(settings.secrets_dir) / rel).resolve()
    if Path(settings.secrets_dir).resolve() not in path.parents:
        return None
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
