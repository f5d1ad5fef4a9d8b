"""A migrated SQLite database (all branches) and settings pointing at it."""

from __future__ import annotations

import pytest

from oemhost.config import load_settings
from oemhost.db import make_engine, migrate, session_factory


@pytest.fixture
def settings(tmp_path):
    inv = tmp_path / "inventory"
    (inv / "state" / "nodes").mkdir(parents=True)
    for n in ("node1", "node2"):
        (inv / "state" / "nodes" / f"{n}.yml").write_text(f"name: {n}\naddress: 127.0.0.1\n")
    return load_settings({"OEMHOST_INVENTORY": str(inv),
                          "OEMHOST_STATE_DIR": str(tmp_path / "state"),
                          "OEMHOST_DATABASE_URL": f"sqlite:///{tmp_path}/oemhost.db"})


@pytest.fixture
def factory(settings):
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    yield session_factory(engine)
    engine.dispose()
