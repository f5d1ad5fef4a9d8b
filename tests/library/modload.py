"""Load a custom module of library/ as a plain Python module (its functions are testable)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "library"
MODULE_UTILS = LIBRARY.parent / "plugins" / "module_utils"


def _register_module_utils() -> None:
    """Make ``ansible.module_utils.oemhost_*`` (plugins/module_utils, bundled by Ansible
    when it ships a module) importable when a test loads a module as plain Python."""
    import ansible.module_utils

    for path in sorted(MODULE_UTILS.glob("oemhost_*.py")):
        name = f"ansible.module_utils.{path.stem}"
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        setattr(ansible.module_utils, path.stem, mod)


def load(name: str):
    _register_module_utils()
    spec = importlib.util.spec_from_file_location(name, LIBRARY / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module
