"""Errors the CLI, the panels and the API turn into one clear message."""


class OemhostError(Exception):
    """A failure the user can act on; its message is one line, shown as is."""


class ValidationError(OemhostError):
    """Bad input. ``errors`` maps a field path (``domains[0].name``) to a message."""

    def __init__(self, errors: dict[str, str] | str, *, subject: str = ""):
        if isinstance(errors, str):
            errors = {"": errors}
        self.errors = dict(errors)
        self.subject = subject
        parts = [f"{k}: {v}" if k else v for k, v in self.errors.items()]
        prefix = f"{subject}: " if subject else ""
        super().__init__(prefix + "; ".join(parts))


class ConflictError(OemhostError):
    """A change based on a stale version, or an object that already exists."""


class NotFoundError(OemhostError):
    """The object asked for does not exist."""
