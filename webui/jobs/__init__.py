"""Jobs as the panels show them: the list, one job with its live progress, its result.

Progress is polled (``/jobs/<id>/status?after=<seq>``, JSON, once a second by
``static/app.js``) from :func:`oemhost.jobs.events_since`: it works with gunicorn's sync
workers and through any proxy, where a held-open SSE stream would tie up a worker.
"""

from flask import Blueprint

bp = Blueprint("jobs", __name__)

from webui.jobs import routes  # noqa: E402,F401
