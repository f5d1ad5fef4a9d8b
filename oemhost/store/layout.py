"""Where each record lives inside an inventory directory (paths relative to it)."""

from __future__ import annotations

STATE_DIR = "state"
CACHE_DIR = ".oemhost-cache"
SECRETS_DIR = "secrets"
PLUGIN_CONFIG = "oemhost.yml"
KIND_DIRS = {"node": "state/nodes", "reseller": "state/resellers", "plan": "state/plans",
             "tenant": "state/tenants"}


def node_path(name: str) -> str:
    return f"state/nodes/{name}.yml"


def reseller_path(reseller: str) -> str:
    return f"state/resellers/{reseller}.yml"


def plan_path(reseller: str, plan: str) -> str:
    return f"state/plans/{reseller}/{plan}.yml"


def tenant_path(tenant: str) -> str:
    return f"state/tenants/{tenant}.yml"


def subject_of(kind: str, key: str | tuple[str, str]) -> str:
    """How errors name a record: ``shop1`` for tenants, ``node:node1``, ``plan:acme/basic``."""
    if kind == "tenant":
        return str(key)
    if kind == "plan":
        return f"plan:{key[0]}/{key[1]}"
    return f"{kind}:{key}"
