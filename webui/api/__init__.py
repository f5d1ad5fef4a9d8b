"""The resellers' JSON API (``/api/v1``): plans and customers for their billing systems.

Authentication: ``Authorization: Bearer <token>`` with a token the reseller issued in its
panel (settings). Every answer is JSON; errors are ``{"error": message, "fields": {...}}``
with 400 (bad input, per field), 401 (no or bad token), 403 (reseller suspended), 404 (not
found, or not yours), 409 (conflict: exists already, stale version, in use). The API is
described by the OpenAPI document at ``/api/v1/openapi.json`` (docs/API.md).
"""

from flask import Blueprint

bp = Blueprint("api", __name__)

from webui.api import routes  # noqa: E402,F401
