"""The lab: real Debian 12 nodes (systemd-nspawn in network namespaces) for tests and demo."""

from oemhost.lab.lab import Lab
from oemhost.lab.system import LabError

__all__ = ["Lab", "LabError", "lab_for"]


def lab_for(settings, name: str = "lab", inventory: str | None = None) -> Lab:
    """The lab ``name`` of this checkout; the default lab writes ``inventories/lab``."""
    from pathlib import Path

    if inventory is not None:
        inv = Path(inventory).resolve() if inventory else None
    elif name == "lab":
        inv = settings.project_dir / "inventories" / "lab"
    else:
        inv = settings.project_dir / ".lab" / name / "inventory"
    return Lab(settings.project_dir, name, inventory_dir=inv)
