"""Load a custom module of library/ as a plain Python module (its functions are testable)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "library"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, LIBRARY / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module
