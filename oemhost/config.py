"""Settings of one oemhost installation.

Read from the TOML file named by ``OEMHOST_CONFIG`` (if set), then overridden by
``OEMHOST_*`` environment variables. Defaults suit a checkout: the lab inventory under
``inventories/lab`` and runtime state under ``.oemhost/``.

Components read their own table with :meth:`Settings.section` (``[monitor]``,
``[jobs]``, ``[smtp]``, ``[web]``...), so adding a component does not touch this file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oemhost.errors import OemhostError

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    inventory_dir: Path
    state_dir: Path
    database_url: str
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def playbooks_dir(self) -> Path:
        return self.project_dir / "playbooks"

    @property
    def secrets_dir(self) -> Path:
        """Controller-side generated secrets (never in git): beside the inventory."""
        return Path(self.raw.get("secrets_dir") or self.inventory_dir / "secrets")

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise OemhostError(f"config: [{name}] must be a table")
        return value


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    raw: dict[str, Any] = {}
    cfg = env.get("OEMHOST_CONFIG")
    if cfg:
        try:
            raw = tomllib.loads(Path(cfg).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise OemhostError(f"config file {cfg} not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise OemhostError(f"config file {cfg}: {exc}") from exc
    base = Path(cfg).resolve().parent if cfg else PROJECT_DIR

    def pick(key: str, envname: str, default: str) -> str:
        return env.get(envname) or str(raw.get(key) or default)

    project_dir = Path(pick("project_dir", "OEMHOST_PROJECT_DIR", str(PROJECT_DIR)))
    inventory_dir = Path(pick("inventory", "OEMHOST_INVENTORY",
                              str(PROJECT_DIR / "inventories" / "lab")))
    state_dir = Path(pick("state_dir", "OEMHOST_STATE_DIR", str(PROJECT_DIR / ".oemhost")))
    if not inventory_dir.is_absolute():
        inventory_dir = base / inventory_dir
    if not state_dir.is_absolute():
        state_dir = base / state_dir
    database_url = pick("database_url", "OEMHOST_DATABASE_URL",
                        f"sqlite:///{state_dir / 'oemhost.db'}")
    return Settings(project_dir=project_dir, inventory_dir=inventory_dir,
                    state_dir=state_dir, database_url=database_url, raw=raw)
