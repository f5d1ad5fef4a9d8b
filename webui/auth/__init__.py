"""Logins: the provider's page, each reseller's branded page (``/r/<id>/login`` or its
own host name), logout and one's own password."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from webui.auth import routes  # noqa: E402,F401
