"""Outgoing mail: an SMTP client configured in ``[smtp]`` and mail templates (ja / en).

>>> mailer = Mailer.from_settings(settings)
>>> subject, body = render("incident_notice", "ja", incident=...)
>>> mailer.send(mailer.compose(["noc@acme.example"], subject, body))
"""

from oemhost.notify.smtp import Mailer, MailError, Sent, SmtpConfig
from oemhost.notify.templates import LANGUAGES, render

__all__ = ["LANGUAGES", "MailError", "Mailer", "Sent", "SmtpConfig", "render"]
