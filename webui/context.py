"""What a request works with: the database session, the store, the brand it is served under.

The database session is opened on first use in a request and closed (rolled back unless
committed) at its end. The store is one :class:`oemhost.store.Store` per application (it
keeps its own snapshot and locks). The brand is the reseller whose panel this is: from the
logged-in user, the ``/r/<reseller>/`` path or the host name (``brand.panel_host``).
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from oemhost.db import make_engine, migrate, session_factory


@dataclass(frozen=True)
class Brand:
    reseller: str | None
    display_name: str
    logo_url: str
    primary_color: str
    accent_color: str
    locale: str | None

    @property
    def login_path(self) -> str:
        return f"/r/{self.reseller}/login" if self.reseller else "/login"


PROVIDER_BRAND = Brand(None, "oemhost", "", "#23395d", "#d9822b", None)


def init_app(app: Flask) -> None:
    settings = app.extensions["oemhost_settings"]
    url = app.config.get("DATABASE_URL") or settings.database_url
    if app.config.get("MIGRATE_ON_START", True):
        migrate(url)
    engine = make_engine(url)
    app.extensions["oemhost_db"] = session_factory(engine)
    app.extensions["oemhost_engine"] = engine
    app.extensions["oemhost_store_lock"] = threading.Lock()
    app.extensions["oemhost_hosts"] = (0.0, {})
    app.teardown_appcontext(_close_session)
    app.after_request(_freeze_large_snapshot)
    app.context_processor(lambda: {"current_brand": current_brand})


def db() -> Session:
    """The request's database session (committed by whoever changes something)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["oemhost_db"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()


def settings():
    return current_app.extensions["oemhost_settings"]


def store():
    """The application's store (created on first use: the inventory may appear later)."""
    st = current_app.extensions.get("oemhost_store")
    if st is None:
        from oemhost.store import Store

        with current_app.extensions["oemhost_store_lock"]:
            st = current_app.extensions.get("oemhost_store")
            if st is None:
                st = Store(settings().inventory_dir)
                current_app.extensions["oemhost_store"] = st
    return st


def count_customers(reseller: str, q: str | None, status: str | None) -> int:
    """The number of a reseller's matching customers, remembered per store snapshot
    generation: paging through a list filters the 10,000 rows once for the count."""
    st = store()
    snap = st.refresh(max_age=st.LIST_MAX_AGE)
    cache = current_app.extensions.setdefault("oemhost_count_cache", {})
    key = (snap.generation, reseller, q, status)
    if key not in cache:
        if len(cache) > 256:
            cache.clear()
        cache[key] = st.count_tenants(reseller=reseller, q=q, status=status)
    return cache[key]


#: from this many tenants on, the loaded snapshot is moved out of the garbage collector's way
FREEZE_TENANTS = 1000


def _freeze_large_snapshot(resp):
    """Once a large snapshot is loaded, move every object alive into the collector's
    permanent generation (``gc.freeze``): the 10,000 tenants' entries are millions of
    long-lived objects, and a full collection walking them cost ~250 ms of CPU inside
    whichever request triggered it (measured with bench/bench_panels.py: CPU p95 of the
    customer list 260-300 ms before, 70-85 ms after). Done once per process."""
    ext = current_app.extensions
    st = ext.get("oemhost_store")
    if st is not None and not ext.get("oemhost_gc_frozen") and \
            st.loaded_tenants >= FREEZE_TENANTS:
        gc.freeze()
        ext["oemhost_gc_frozen"] = True
    return resp


def client_ip() -> str:
    return request.remote_addr or "-"


def _hosts() -> dict[str, str]:
    """``panel_host`` -> reseller id, re-read at most every 10 s."""
    at, hosts = current_app.extensions["oemhost_hosts"]
    if time.monotonic() - at > 10:
        from oemhost.errors import NotFoundError

        hosts = {}
        try:
            resellers = store().list_resellers()
        except NotFoundError:  # no inventory yet: only the provider's login exists
            resellers = []
        for r in resellers:
            if r.brand.panel_host:
                hosts[r.brand.panel_host.lower()] = r.id
        current_app.extensions["oemhost_hosts"] = (time.monotonic(), hosts)
    return hosts


def reseller_for_host() -> str | None:
    host = (request.host or "").split(":", 1)[0].lower()
    return _hosts().get(host)


def brand_for(reseller_id: str | None) -> Brand:
    if not reseller_id:
        return PROVIDER_BRAND
    from oemhost.errors import NotFoundError

    try:
        r = store().get_reseller(reseller_id)
    except NotFoundError:
        return PROVIDER_BRAND
    b = r.brand
    return Brand(r.id, b.display_name or r.company, b.logo_url or "", b.primary_color,
                 b.accent_color, r.locale)


def current_brand() -> Brand:
    """The brand of this request (cached on ``g``)."""
    if "brand" not in g:
        from flask_login import current_user

        rid = None
        if current_user.is_authenticated and getattr(current_user, "reseller", None):
            rid = current_user.reseller
        elif request.view_args and request.view_args.get("reseller_id"):
            rid = request.view_args["reseller_id"]
        else:
            rid = reseller_for_host()
        g.brand = brand_for(rid)
    return g.brand
