"""The monitor's handle on the control-plane database (one engine per URL per process)."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from oemhost.config import Settings
from oemhost.db import make_engine, migrate, session_factory

_factories: dict[str, sessionmaker[Session]] = {}
_lock = threading.Lock()


def sessions(settings: Settings, *, migrated: bool = False) -> sessionmaker[Session]:
    """A session factory for ``settings.database_url``; the schema is brought to the newest
    revision the first time a process asks (``oemhost.db.migrate``), unless ``migrated``."""
    url = settings.database_url
    with _lock:
        factory = _factories.get(url)
        if factory is None:
            if not migrated:
                migrate(url)
            factory = _factories[url] = session_factory(make_engine(url))
        return factory


def dispose(url: str | None = None) -> None:
    """Close the pooled connections of ``url`` (or of every URL) and forget the factory."""
    with _lock:
        for key in [url] if url else list(_factories):
            factory = _factories.pop(key, None)
            if factory is not None:
                factory.kw["bind"].dispose()
