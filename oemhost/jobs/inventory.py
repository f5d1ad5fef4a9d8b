"""What the jobs need to know about the inventory: which nodes exist.

One small function so that it can switch to ``oemhost.store`` (the inventory's only
reader/writer) once that lands; until then the node names are the file names of
``<inventory>/state/nodes/<node>.yml`` (docs/INVENTORY.md).
"""

from __future__ import annotations

import re

NODE_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")


def node_names(settings) -> set[str]:
    """The names of the nodes declared in the managed inventory."""
    nodes_dir = settings.inventory_dir / "state" / "nodes"
    if not nodes_dir.is_dir():
        return set()
    return {p.stem for p in nodes_dir.glob("*.yml") if p.is_file() and NODE_RE.match(p.stem)}
