"""Errors as people read them: a message and a way back, never a trace.

HTML callers get a page, API and JSON callers ``{"error": ...}``. A 500 rolls back the
request's database session and is logged with its trace on the server only.
"""

import logging

from flask import Blueprint, g, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from oemhost.errors import NotFoundError, OemhostError
from webui.security import json_error, wants_json

bp = Blueprint("errors", __name__)
log = logging.getLogger(__name__)


def _page(status: int, title: str, message: str):
    if wants_json():
        return json_error(status, message)
    return render_template("errors/error.html", status=status, title=title,
                           message=message), status


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    titles = {400: _("Bad request"), 401: _("Please log in"), 403: _("Not allowed"),
              404: _("Not found"), 405: _("Not allowed"), 413: _("Too large"),
              429: _("Too many requests")}
    messages = {403: _("You may not open this page."),
                404: _("There is nothing here, or it is not yours to see."),
                400: _("The request could not be understood (was the form too old? "
                       "Reload the page and try again)."),
                413: _("What you sent is too large.")}
    status = exc.code or 500
    return _page(status, titles.get(status, _("Error")),
                 messages.get(status, exc.description or ""))


@bp.app_errorhandler(NotFoundError)
def not_found(exc: NotFoundError):
    return _page(404, _("Not found"), str(exc))


@bp.app_errorhandler(OemhostError)
def oemhost_error(exc: OemhostError):
    return _page(409, _("That did not work"), str(exc))


@bp.app_errorhandler(Exception)
def server_error(exc: Exception):
    session = g.get("db_session")
    if session is not None:
        session.rollback()
    log.exception("unhandled error")
    return _page(500, _("Something went wrong"),
                 _("The panel hit an internal error. Nothing was half-changed; please try "
                   "again, and tell your provider if it keeps happening."))
