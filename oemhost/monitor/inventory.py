"""What the monitor needs from the hosting state: nodes, resellers, who is on which node.

Read-only, from the files the store writes (``state/nodes/*.yml``, ``state/resellers/*.yml``,
``state/tenants/*.yml``; docs/INVENTORY.md). The monitor never writes the inventory; a
record that does not parse is skipped with a warning rather than stopping the monitoring
of every other node. Values are data (``yaml.safe_load``; an inert ``!unsafe`` tag is read
as its plain value), and names are checked against the store's patterns before they are
used anywhere.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from oemhost.config import Settings
from oemhost.monitor.checks import SERVICE_GROUPS, Check, Credentials
from oemhost.monitor.config import MonitorConfig, db_password

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
TENANT = re.compile(r"^[a-z][a-z0-9]{2,15}$")
PROVIDERS = ("lab", "libvirt", "ipmi", "proxmox", "command")


@dataclass(frozen=True)
class Connection:
    user: str = "root"
    port: int = 22
    private_key_file: str | None = None


@dataclass(frozen=True)
class NodeInfo:
    name: str
    address: str
    services: tuple[str, ...]
    owner: str = "shared"
    infra_provider: str | None = None
    infra_params: Mapping[str, Any] = field(default_factory=dict)
    connection: Connection = Connection()


@dataclass(frozen=True)
class ResellerInfo:
    id: str
    company: str
    contacts: tuple[str, ...]
    locale: str = "ja"
    status: str = "active"


class _Loader(yaml.SafeLoader):
    pass


def _unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor("!unsafe", _unsafe)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        log.warning("monitor: cannot read %s: %s", path, str(exc).splitlines()[0])
        return None
    if not isinstance(data, dict):
        log.warning("monitor: %s is not a mapping", path)
        return None
    return data


def _records(directory: Path) -> Iterable[tuple[Path, dict[str, Any]]]:
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.yml")):
        data = _read(path)
        if data is not None:
            yield path, data


def load_nodes(inventory_dir: Path) -> list[NodeInfo]:
    nodes = []
    for path, d in _records(Path(inventory_dir) / "state" / "nodes"):
        name = str(d.get("name", path.stem))
        if not NAME.match(name) or name != path.stem:
            log.warning("monitor: %s: bad node name %r", path, name)
            continue
        address = str(d.get("address", ""))
        if not re.fullmatch(r"[0-9A-Fa-f.:]{2,45}", address):
            log.warning("monitor: node %s: bad address %r", name, address)
            continue
        services = tuple(s for s in d.get("services", []) if s in SERVICE_GROUPS)
        infra = d.get("infra") or {}
        provider = infra.get("provider") if isinstance(infra, dict) else None
        conn = d.get("connection") or {}
        nodes.append(NodeInfo(
            name=name, address=address, services=services,
            owner=str(d.get("owner", "shared")),
            infra_provider=provider if provider in PROVIDERS else None,
            infra_params=dict(infra.get("params") or {}) if isinstance(infra, dict) else {},
            connection=Connection(user=str(conn.get("user", "root")),
                                  port=int(conn.get("port", 22)),
                                  private_key_file=conn.get("private_key_file"))))
    return nodes


def load_resellers(inventory_dir: Path) -> dict[str, ResellerInfo]:
    out = {}
    for path, d in _records(Path(inventory_dir) / "state" / "resellers"):
        rid = str(d.get("id", path.stem))
        if not NAME.match(rid):
            continue
        contacts = tuple(str(c) for c in d.get("contacts", []) if isinstance(c, str))
        locale = d.get("locale", "ja")
        out[rid] = ResellerInfo(rid, str(d.get("company", rid)), contacts,
                                locale if locale in ("ja", "en") else "ja",
                                str(d.get("status", "active")))
    return out


def tenants_by_reseller(inventory_dir: Path, node: str) -> dict[str, int]:
    """How many active or suspended tenants each reseller has on ``node``."""
    counts: dict[str, int] = {}
    for _path, d in _records(Path(inventory_dir) / "state" / "tenants"):
        if d.get("node") != node or d.get("status") == "removed":
            continue
        reseller = str(d.get("reseller", ""))
        if NAME.match(reseller):
            counts[reseller] = counts.get(reseller, 0) + 1
    return counts


def nodes_of_reseller(inventory_dir: Path, reseller: str) -> set[str]:
    """Nodes a reseller owns or has tenants on (what its panel may show)."""
    out = {n.name for n in load_nodes(inventory_dir) if n.owner == reseller}
    for _path, d in _records(Path(inventory_dir) / "state" / "tenants"):
        if d.get("reseller") == reseller and d.get("status") != "removed" and d.get("node"):
            out.add(str(d["node"]))
    return out


def build_checks(nodes: Iterable[NodeInfo], cfg: MonitorConfig,
                 settings: Settings | None = None) -> list[Check]:
    """Every enabled check of every node: ping plus the protocols of its services."""
    checks = []
    for node in nodes:
        protocols = ["ping"]
        for service in node.services:
            if service != "host":
                protocols.extend(SERVICE_GROUPS.get(service, ()))
        for proto in protocols:
            cc = cfg.check_config(node.name, proto)
            if not cc.enabled:
                continue
            cred = None
            if proto in ("postgresql", "mysql") and settings is not None:
                password = db_password(settings, cfg, node.name,
                                       "postgresql" if proto == "postgresql" else "mariadb")
                if password:
                    database = (cfg.db.postgresql_database if proto == "postgresql"
                                else cfg.db.mysql_database)
                    cred = Credentials(cfg.db.user, password, database)
            checks.append(Check(node=node.name, protocol=proto, address=node.address,
                                port=cc.port, timeout=cc.timeout, interval=cc.interval,
                                params=dict(cc.params), credentials=cred))
    return checks
