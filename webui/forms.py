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
            name = fields.get(path)
            if name is None:
                name = next((f for p, f in fields.items() if p and path.startswith(p + ".")),
                            None)
            if name is None:
                name = path.split(".", 1)[0].split("[", 1)[0]
            field = form._fields.get(name) if name else None
            if field is not None:
                field.errors = [*list(field.errors or []), message]
            else:
                form.form_errors.append(f"{path}: {message}" if path else message)
    elif isinstance(exc, ConflictError | NotFoundError):
        form.form_errors.append(str(exc))
    else:
        form.form_errors.append(str(exc))


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
