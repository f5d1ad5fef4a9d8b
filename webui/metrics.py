"""``GET /metrics``: the monitor's probe results in the Prometheus exposition format.

Who may scrape: with ``[web] metrics_token_file`` set, a request carrying
``Authorization: Bearer <the file's token>``; without it, only loopback clients (a
Prometheus on the same host, or behind a proxy that adds the token). Everyone else gets
404, so the endpoint does not advertise itself.
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, request

bp = Blueprint("metrics", __name__)


def _token() -> str | None:
    name = current_app.config["OEMHOST_WEB"].get("metrics_token_file") or ""
    if not name:
        return None
    settings = current_app.extensions["oemhost_settings"]
    path = Path(name) if Path(name).is_absolute() else Path(settings.secrets_dir) / name
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError:
        abort(503)
    if not token:
        abort(503)
    return token


def _allowed() -> bool:
    token = _token()
    if token is not None:
        sent = request.headers.get("Authorization", "")
        return sent.startswith("Bearer ") and hmac.compare_digest(
            sent.removeprefix("Bearer ").encode(), token.encode())
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.route("/metrics")
def metrics() -> Response:
    if not _allowed():
        abort(404)
    from oemhost.monitor.metrics import render_metrics

    body, content_type = render_metrics(current_app.extensions["oemhost_db"])
    return Response(body, content_type=content_type)
