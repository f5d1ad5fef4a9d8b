"""The hosting state as inventory: the only writer of ``state/`` (see docs/INVENTORY.md).

``Store(inventory_dir)`` reads and writes one inventory directory (its own git
repository); ``Store.init(path)`` creates one. Model classes live in
:mod:`oemhost.store.model`, the rules in :mod:`oemhost.store.validate`, password hashes in
:mod:`oemhost.store.hashing`.
"""

from oemhost.store.model import (
    Database,
    DnsRecord,
    Domain,
    FtpAccount,
    Mailbox,
    Node,
    Plan,
    Reseller,
    Tenant,
    TenantSummary,
)
from oemhost.store.store import Actor, PermissionDenied, Store

__all__ = [
    "Actor", "Database", "DnsRecord", "Domain", "FtpAccount", "Mailbox", "Node",
    "PermissionDenied", "Plan", "Reseller", "Store", "Tenant", "TenantSummary",
]
