"""Typed model objects of the hosting state (the records of ``state/*.yml``).

Each record is a dataclass whose field order is the key order of its YAML file.
``from_dict`` expects a record that :mod:`oemhost.store.validate` has already normalised
(every key present, right types); ``to_dict`` gives the plain data written to the file.
``version`` is the git blob id of the file the record was read from: pass it back as
``expected_version`` to make a change conditional on nobody having changed it since.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

SERVICES = ("web", "mail", "ftp", "mariadb", "postgresql", "dns")
INFRA_PROVIDERS = ("lab", "libvirt", "ipmi", "proxmox", "command")
TENANT_STATUSES = ("active", "suspended", "removed")
RESELLER_STATUSES = ("active", "suspended")
DB_ENGINES = ("mariadb", "postgresql")
TLS_MODES = ("selfsigned", "acme", "own")
DNS_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA")
SHARED_OWNER = "shared"


class Record:
    """Base of every model class: dict conversion that follows the dataclass fields."""

    _skip: ClassVar[frozenset[str]] = frozenset({"version"})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name not in self._skip}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, version: str | None = None):
        hints = _hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name == "version":
                continue
            if f.name in data:
                kwargs[f.name] = _build(hints[f.name], data[f.name])
        obj = cls(**kwargs)
        if "version" in {f.name for f in dataclasses.fields(cls)}:
            obj.version = version
        return obj


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _build(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(inner[0], value) if len(inner) == 1 else value
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_build(item, v) for v in value]
    if isinstance(tp, type) and issubclass(tp, Record):
        return tp.from_dict(value)
    return value


# --- nodes ---------------------------------------------------------------------------

@dataclass
class Connection(Record):
    user: str | None = None
    port: int | None = None
    private_key_file: str | None = None
    ssh_common_args: str | None = None


@dataclass
class Infra(Record):
    provider: str = "lab"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Capacity(Record):
    tenants: int = 500
    disk_mb: int = 200000


@dataclass
class Node(Record):
    name: str = ""
    address: str = ""
    connection: Connection = field(default_factory=Connection)
    services: list[str] = field(default_factory=list)
    owner: str = SHARED_OWNER
    infra: Infra = field(default_factory=Infra)
    capacity: Capacity = field(default_factory=Capacity)
    version: str | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return self.name


# --- resellers and plans -------------------------------------------------------------

@dataclass
class Brand(Record):
    display_name: str = ""
    logo_url: str = ""
    primary_color: str = "#0055aa"
    accent_color: str = "#ff8800"
    panel_host: str | None = None


@dataclass
class ResellerLimits(Record):
    tenants: int = 100
    disk_mb: int = 100000
    oversell: bool = False


@dataclass
class Reseller(Record):
    id: str = ""
    company: str = ""
    status: str = "active"
    contacts: list[str] = field(default_factory=list)
    brand: Brand = field(default_factory=Brand)
    locale: str = "ja"
    limits: ResellerLimits = field(default_factory=ResellerLimits)
    version: str | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return self.id


@dataclass
class DatabaseLimits(Record):
    mariadb: int = 0
    postgresql: int = 0


@dataclass
class MailLimits(Record):
    per_hour: int = 200
    per_day: int = 2000


@dataclass
class Plan(Record):
    id: str = ""
    reseller: str = ""
    name: str = ""
    disk_mb: int = 1000
    default_web_mb: int = 800
    max_domains: int = 1
    max_mailboxes: int = 0
    max_mailbox_mb: int = 0
    max_ftp_accounts: int = 0
    max_databases: DatabaseLimits = field(default_factory=DatabaseLimits)
    dns: bool = False
    ssh: bool = False
    mail: bool = False
    ftps_required: bool = True
    mail_limits: MailLimits = field(default_factory=MailLimits)
    version: str | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.reseller, self.id)


# --- tenants -------------------------------------------------------------------------

@dataclass
class Tls(Record):
    mode: str = "selfsigned"
    cert_ref: str | None = None


@dataclass
class Domain(Record):
    name: str = ""
    docroot: str = "public_html"
    aliases: list[str] = field(default_factory=list)
    tls: Tls = field(default_factory=Tls)
    https_redirect: bool = False
    php_version: str | None = None

    @property
    def display_name(self) -> str:
        from oemhost.store.validate import domain_to_unicode

        return domain_to_unicode(self.name)


@dataclass
class MailboxLock(Record):
    reason: str = ""
    at: str = ""
    by: str = ""


@dataclass
class Mailbox(Record):
    address: str = ""
    password_hash: str = ""
    quota_mb: int = 0
    forwards: list[str] = field(default_factory=list)
    locked: MailboxLock | None = None


@dataclass
class FtpAccount(Record):
    name: str = ""
    password_hash: str = ""
    dir: str = ""


@dataclass
class Database(Record):
    engine: str = "mariadb"
    name: str = ""
    user: str = ""
    password_hash: str = ""


@dataclass
class DnsRecord(Record):
    zone: str = ""
    name: str = "@"
    type: str = "A"
    value: str = ""
    ttl: int = 3600


@dataclass
class DiskSplit(Record):
    web_mb: int = 0
    mail_mb: int = 0


@dataclass
class Tenant(Record):
    id: str = ""
    reseller: str = ""
    plan: str = ""
    node: str = ""
    status: str = "active"
    status_reason: str = ""
    contractor: str = ""
    customer_number: str | None = None
    contract_date: str = ""
    start_date: str = ""
    contact_email: str = ""
    disk: DiskSplit = field(default_factory=DiskSplit)
    ssh: bool = False
    password_hash: str = ""
    domains: list[Domain] = field(default_factory=list)
    mailboxes: list[Mailbox] = field(default_factory=list)
    ftp_accounts: list[FtpAccount] = field(default_factory=list)
    databases: list[Database] = field(default_factory=list)
    dns_records: list[DnsRecord] = field(default_factory=list)
    version: str | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return self.id


@dataclass
class TenantSummary(Record):
    """One row of :meth:`Store.list_tenants`: what a paginated panel list shows."""

    id: str = ""
    reseller: str = ""
    plan: str = ""
    node: str = ""
    status: str = ""
    contractor: str = ""
    customer_number: str | None = None
    contact_email: str = ""
    contract_date: str = ""
    start_date: str = ""
    disk: DiskSplit = field(default_factory=DiskSplit)
    domains: list[str] = field(default_factory=list)
    mailboxes: int = 0
    ftp_accounts: int = 0
    databases: int = 0
    errors: list[str] = field(default_factory=list)
    version: str | None = field(default=None, compare=False)


KINDS: dict[str, type[Record]] = {
    "node": Node, "reseller": Reseller, "plan": Plan, "tenant": Tenant,
}
