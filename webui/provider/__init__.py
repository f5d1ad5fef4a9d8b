"""The provider's (ops) panel: resellers and their logins, nodes, jobs, incidents, audit."""

from flask import Blueprint

bp = Blueprint("provider", __name__)

from webui.provider import routes  # noqa: E402,F401
