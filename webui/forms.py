"""Form helpers shared by the panels: store errors next to their fields, job notices."""

from __future__ import annotations

from flask import flash
from flask_babel import gettext as _
from wtforms import Form

from oemhost.errors import ConflictError, NotFoundError, OemhostError, ValidationError


def show_errors(form: Form, exc: OemhostError, fields: dict[str, str] | None = None) -> None:
    """Put a store error next to the form field it is about.

    ``fields`` maps store field paths (``disk.web_mb``, ``brand.primary_color``...) to
    form field names where they differ; a path with no field becomes a form-level message
    (``form.form_errors``), shown above the form.
    """
    fields = fields or {}
    form.form_errors = list(getattr(form, "form_errors", []) or [])
    if isinstance(exc, ValidationError):
        for path, message in exc.errors.items():
            field = None
            for name in _candidates(path, fields):
                field = form._fields.get(name)
                if field is not None:
                    break
            if field is not None:
                field.errors = [*list(field.errors or []), message]
            else:
                form.form_errors.append(f"{path}: {message}" if path else message)
    elif isinstance(exc, ConflictError | NotFoundError):
        form.form_errors.append(str(exc))
    else:
        form.form_errors.append(str(exc))


def _candidates(path: str, fields: dict[str, str]):
    """Form field names a store error path may belong to, best first: the mapping, the
    last segment (``quota_mb`` of ``mailboxes[2].quota_mb``), a mapped prefix
    (``mailboxes``), the first segment (``disk``)."""
    if path in fields:
        yield fields[path]
    parts = [p.split("[", 1)[0] for p in path.split(".") if p]
    if parts:
        yield parts[-1]
    for prefix, name in fields.items():
        if prefix and (path.startswith(prefix + ".") or path.startswith(prefix + "[")):
            yield name
    if parts:
        yield parts[0]


def announce(outcome, done: str) -> None:
    """A flash saying what was saved and which job applies it (watched live on the page)."""
    if outcome.job_id is not None:
        flash(done, "success")
        flash(str(outcome.job_id), "job")
    elif outcome.job_error:
        flash(done + " " + _("It is saved but could not be applied yet: %(error)s",
                             error=outcome.job_error), "warning")
    else:
        flash(done, "success")
