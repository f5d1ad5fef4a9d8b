"""The reseller's panel, under its own brand: server usage, plans, customers, incidents,
settings (brand, API tokens)."""

from flask import Blueprint

bp = Blueprint("reseller", __name__)

from webui.reseller import routes  # noqa: E402,F401
