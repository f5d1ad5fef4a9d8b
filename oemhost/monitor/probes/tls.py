"""TLS for the probes: client contexts and the certificate verdict (days left).

Hosting nodes often serve self-signed certificates (a domain's default TLS mode), so the
probes do not verify the chain unless ``tls_verify`` is set; they always read the leaf
certificate and turn its expiry into a status: WARNING below ``cert_warn_days`` (21),
CRITICAL below ``cert_crit_days`` (0: expired).
"""

from __future__ import annotations

import functools
import ssl
from datetime import datetime

from cryptography import x509

from oemhost.monitor.checks import Check, Failure, Status
from oemhost.monitor.probes.base import Outcome, ProbeError


@functools.lru_cache(maxsize=16)
def client_context(verify: bool = False, ca_file: str | None = None) -> ssl.SSLContext:
    """A shared client context (creating one loads the CA store: do it once)."""
    if verify:
        ctx = ssl.create_default_context(cafile=ca_file or None)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def context_for(check: Check) -> ssl.SSLContext:
    return client_context(bool(check.params.get("tls_verify", False)),
                          check.params.get("ca_file") or None)


def server_name(check: Check) -> str | None:
    """SNI name: ``sni`` or ``host`` param; none for a bare IP address."""
    name = check.params.get("sni") or check.params.get("host") or ""
    return str(name) or None


def cert_days_left(ssl_object: ssl.SSLObject | None, now: datetime) -> float | None:
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    return (cert.not_valid_after_utc - now).total_seconds() / 86400.0


def cert_verdict(check: Check, ssl_object: ssl.SSLObject | None, now: datetime,
                 ok_message: str) -> Outcome:
    """Fold the certificate's days left into a probe's OK verdict."""
    days = cert_days_left(ssl_object, now)
    if days is None:
        raise ProbeError(Failure.TLS, "TLS session without a server certificate")
    warn = float(check.params.get("cert_warn_days", 21))
    crit = float(check.params.get("cert_crit_days", 0))
    proto = ssl_object.version() if ssl_object else "TLS"
    if days < crit:
        what = (f"certificate expired {-days:.0f} days ago" if days < 0
                else f"certificate expires in {days:.1f} days")
        return Outcome(Status.CRITICAL, f"{ok_message}; {what}", Failure.CERT, days)
    if days < warn:
        return Outcome(Status.WARNING, f"{ok_message}; certificate expires in {days:.0f} days",
                       Failure.CERT, days)
    return Outcome(Status.OK, f"{ok_message} ({proto}, certificate valid {days:.0f} days)",
                   None, days)


def ssl_object_of(writer) -> ssl.SSLObject | None:
    return writer.get_extra_info("ssl_object")
