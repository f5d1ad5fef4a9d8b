"""The panels: provider, reseller (white-label) and end user, and the resellers' JSON API.

``create_app(test_config=None)`` builds the Flask application. The UI is thin: hosting
state is read and written through :class:`oemhost.store.Store`, every change is applied by
a job of :mod:`oemhost.jobs`, logins and the audit log live in :mod:`oemhost.accounts`.
See docs/PANELS.md.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from oemhost.errors import OemhostError

WEB_DEFAULTS: dict[str, Any] = {
    # Secure cookies need HTTPS. The local demo serves plain HTTP on 127.0.0.1, where a
    # browser would never send a Secure cookie back; `[web] cookie_secure = false` is
    # for that case only (and refused unless the server listens on a loopback address).
    "cookie_secure": True,
    "session_hours": 8,
    "secret_key_file": "",
    "public_url": "",
    "proxy_fix": False,
    "metrics_token_file": "",   # relative to the secrets dir; empty: loopback clients only
}


def _secret_key(path: Path) -> str:
    """The session signing key from its file, created (0600) with a random key if absent.

    There is no built-in fallback key: a key nobody chose is generated once per
    installation and kept beside the other controller secrets.
    """
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker created it meanwhile
            return _secret_key(path)
        key = secrets.token_hex(32)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
        return key
    if len(key) < 32:
        raise OemhostError(f"{path}: the web secret key must be at least 32 characters")
    return key


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The panels' application.

    ``test_config`` may hold ``OEMHOST_SETTINGS`` (a :class:`oemhost.config.Settings`)
    and any Flask setting; without it the settings come from ``load_settings()``.
    """
    from oemhost.config import load_settings

    app = Flask(__name__, instance_relative_config=False)
    test_config = dict(test_config or {})
    settings = test_config.pop("OEMHOST_SETTINGS", None) or load_settings()
    web = {**WEB_DEFAULTS, **settings.section("web")}
    key_file = Path(web["secret_key_file"] or settings.secrets_dir / "web-secret-key")
    secure = web["cookie_secure"]
    if not isinstance(secure, bool):
        raise OemhostError("config: [web] cookie_secure: true or false")
    app.config.update(
        SECRET_KEY=test_config.pop("SECRET_KEY", None) or _secret_key(key_file),
        SESSION_COOKIE_NAME="oemhost_session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=int(web["session_hours"])),
        WTF_CSRF_TIME_LIMIT=None,  # bound to the session, which expires on its own
        WTF_CSRF_SSL_STRICT=secure,
        MAX_CONTENT_LENGTH=1024 * 1024,
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        OEMHOST_WEB=web,
    )
    app.config.update(test_config)
    app.json.sort_keys = False  # keep the OpenAPI document in its written order
    app.extensions["oemhost_settings"] = settings

    if web.get("proxy_fix"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    from oemhost import accounts
    from webui import context, i18n

    accounts.configure_hashing(web)
    from webui.extensions import babel, csrf, login_manager

    context.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.init_app(app)

    from webui import api, auth, enduser, errors, jobs, metrics, provider, reseller

    app.register_blueprint(errors.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(provider.bp, url_prefix="/provider")
    app.register_blueprint(reseller.bp, url_prefix="/reseller")
    app.register_blueprint(enduser.bp, url_prefix="/panel")
    app.register_blueprint(jobs.bp, url_prefix="/jobs")
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(metrics.bp)
    csrf.exempt(api.bp)  # token-authenticated, no cookies: CSRF does not apply

    @app.after_request
    def _security_headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: https:; style-src 'self'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
        return resp

    return app
