"""The end user's panel (reseller-branded): domains, mail, FTP, databases, disk split,
SSH, DNS, passwords, usage. Everything it shows or changes is the user's own tenant."""

from flask import Blueprint

bp = Blueprint("enduser", __name__)

from webui.enduser import routes  # noqa: E402,F401
