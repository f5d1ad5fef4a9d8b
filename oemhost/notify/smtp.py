"""Sending mail through a configurable relay: STARTTLS or SMTPS, optional login.

``[smtp]`` settings::

    host = "mail.provider.example"
    port = 587                  # default: 587 starttls, 465 ssl, 25 none
    security = "starttls"       # starttls | ssl | none
    username = "monitor"        # optional; needs starttls or ssl
    password_file = "smtp_password"   # relative to the secrets directory (or absolute)
    from_addr = "monitor@provider.example"
    from_name = "Provider NOC"
    verify = true               # verify the relay's certificate
    ca_file = ""                # extra CA bundle (e.g. a private relay's CA)
    timeout = 30
    helo = ""                   # local host name sent in EHLO (default: the FQDN)

The password is read from a file in the secrets directory (or ``OEMHOST_SMTP_PASSWORD``),
never from the TOML file, and never logged.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email

from oemhost.config import Settings
from oemhost.errors import OemhostError, ValidationError

_KEYS = {"host", "port", "security", "username", "password_file", "from_addr", "from_name",
         "verify", "ca_file", "timeout", "helo"}
_DEFAULT_PORT = {"starttls": 587, "ssl": 465, "none": 25}


class MailError(OemhostError):
    """The relay refused or could not be reached; the message was not sent."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = field(default="", repr=False)
    from_addr: str = "oemhost@localhost"
    from_name: str = ""
    verify: bool = True
    ca_file: str = ""
    timeout: float = 30.0
    helo: str = ""

    @classmethod
    def from_settings(cls, settings: Settings | Mapping[str, Any],
                      env: Mapping[str, str] | None = None) -> SmtpConfig:
        env = os.environ if env is None else env
        if isinstance(settings, Settings):
            section, secrets_dir = settings.section("smtp"), Path(settings.secrets_dir)
        else:
            section, secrets_dir = dict(settings), Path(".")
        errors: dict[str, str] = {}
        for k in sorted(set(section) - _KEYS):
            errors[k] = "unknown key"
        security = section.get("security", "starttls")
        if security not in _DEFAULT_PORT:
            errors["security"] = "must be starttls, ssl or none"
            security = "starttls"
        port = section.get("port", _DEFAULT_PORT[security])
        if not isinstance(port, int) or not 0 < port < 65536:
            errors["port"] = "must be a TCP port"
        username = str(section.get("username", ""))
        password = ""
        if username:
            if security == "none":
                errors["username"] = "login needs security = starttls or ssl"
            password = env.get("OEMHOST_SMTP_PASSWORD", "")
            pw_file = section.get("password_file")
            if not password and pw_file:
                path = Path(pw_file)
                path = path if path.is_absolute() else secrets_dir / path
                try:
                    password = path.read_text(encoding="utf-8").strip()
                except OSError as exc:
                    errors["password_file"] = f"cannot read {path}: {exc.strerror}"
            if not password and "password_file" not in errors:
                need = "a login needs password_file or OEMHOST_SMTP_PASSWORD"
                errors["password_file"] = need
        from_addr = str(section.get("from_addr", "oemhost@localhost"))
        try:
            validate_email(from_addr, check_deliverability=False, test_environment=True)
        except EmailNotValidError as exc:
            if not from_addr.endswith("@localhost"):
                errors["from_addr"] = str(exc)
        for key in ("host", "from_name", "helo", "ca_file"):
            if any(c in str(section.get(key, "")) for c in "\r\n"):
                errors[key] = "must be one line"
        if errors:
            raise ValidationError(errors, subject="smtp settings")
        return cls(host=str(section.get("host", "localhost")), port=int(port),
                   security=security, username=username, password=password,
                   from_addr=from_addr, from_name=str(section.get("from_name", "")),
                   verify=bool(section.get("verify", True)),
                   ca_file=str(section.get("ca_file", "")),
                   timeout=float(section.get("timeout", 30)),
                   helo=str(section.get("helo", "")))


@dataclass(frozen=True)
class Sent:
    message_id: str
    refused: tuple[str, ...] = ()   # recipients the relay refused while accepting others


class Mailer:
    """Compose and send plain-text mail (UTF-8) through the configured relay."""

    def __init__(self, config: SmtpConfig):
        self.config = config

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        return cls(SmtpConfig.from_settings(settings))

    def compose(self, to: Iterable[str], subject: str, body: str, *,
                headers: Mapping[str, str] | None = None) -> EmailMessage:
        msg = EmailMessage()
        cfg = self.config
        sender = Address(display_name=cfg.from_name, addr_spec=cfg.from_addr) \
            if cfg.from_name else cfg.from_addr
        msg["From"] = sender
        msg["To"] = ", ".join(to)
        msg["Subject"] = " ".join(subject.split())  # one line, whatever the template gave
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=cfg.from_addr.rpartition("@")[2] or None)
        msg["Auto-Submitted"] = "auto-generated"
        for k, v in (headers or {}).items():
            msg[k] = v
        msg.set_content(body, charset="utf-8")
        return msg

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.config.ca_file or None)
        if not self.config.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def send(self, msg: EmailMessage) -> Sent:
        """Send. Raises MailError (one line) when nobody got the message."""
        cfg = self.config
        helo = cfg.helo or None
        try:
            if cfg.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, local_hostname=helo,
                                                        timeout=cfg.timeout,
                                                        context=self._context())
            else:
                client = smtplib.SMTP(cfg.host, cfg.port, local_hostname=helo,
                                      timeout=cfg.timeout)
            with client:
                if cfg.security == "starttls":
                    client.starttls(context=self._context())
                    client.ehlo()
                if cfg.username:
                    client.login(cfg.username, cfg.password)
                refused = client.send_message(msg)
        except smtplib.SMTPNotSupportedError as exc:
            raise MailError(f"SMTP relay {cfg.host}:{cfg.port}: {_one_line(exc)}") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"SMTP relay {cfg.host}:{cfg.port} refused the login "
                            f"({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError(f"SMTP relay refused every recipient: "
                            f"{', '.join(exc.recipients)}") from None
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise MailError(f"SMTP relay {cfg.host}:{cfg.port}: {_one_line(exc)}") from None
        return Sent(str(msg["Message-ID"]), tuple(sorted(refused)))


def _one_line(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return " ".join(text.split())[:300]
