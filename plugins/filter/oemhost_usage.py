# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Filter of playbooks/collect_usage.yml: what ``oemhost_usage`` needs of the tenants."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

try:
    from oemhost.ansible_native import plain_args
except ImportError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from oemhost.ansible_native import plain_args


def usage_tenants(tenants: Iterable[Mapping] | None) -> list[dict]:
    """[{tenant, domains}] of the tenant records: ids and domain names only (no hashes or
    other fields reach the module's arguments)."""
    out = []
    for t in tenants or []:
        out.append({"tenant": str(t["id"]),
                    "domains": [str(d["name"]) for d in t.get("domains") or []]})
    return out


class FilterModule:
    def filters(self):
        return {"oemhost_usage_tenants": plain_args(usage_tenants)}
