"""Mail protocols: SMTP(S) ``220`` + ``EHLO`` (+ ``STARTTLS``), POP3(S) ``+OK``, IMAP(S) ``* OK``.

SMTP params: ``helo`` (the name sent in EHLO, "oemhost-monitor"), ``starttls``
("if-offered" | "required" | "never"; plain smtp only).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from oemhost.monitor.checks import Check, Failure, Status
from oemhost.monitor.probes import tls
from oemhost.monitor.probes.base import (
    Outcome,
    ProbeError,
    clip,
    close,
    open_stream,
    read_line,
    read_reply,
    send,
    start_tls,
)

_HELO = re.compile(r"^[A-Za-z0-9.-]{1,253}$")


def _finish(check: Check, writer, text: str) -> Outcome:
    if check.protocol.endswith("s") or tls.ssl_object_of(writer) is not None:
        return tls.cert_verdict(check, tls.ssl_object_of(writer), datetime.now(UTC), text)
    return Outcome(Status.OK, text)


async def probe_smtp(check: Check) -> Outcome:
    helo = str(check.params.get("helo", "oemhost-monitor"))
    if not _HELO.match(helo):
        raise ProbeError(Failure.CONFIG, "bad helo parameter", Status.UNKNOWN)
    mode = str(check.params.get("starttls", "if-offered"))
    implicit = check.protocol == "smtps"
    ctx = tls.context_for(check)
    reader, writer = await open_stream(check, ctx if implicit else None, tls.server_name(check))
    try:
        code, lines = await read_reply(reader, "SMTP greeting")
        if code != 220:
            raise ProbeError(Failure.PROTOCOL, f"SMTP greeting {code} {clip(lines[-1])}")
        ehlo = f"EHLO {helo}\r\n".encode("ascii")
        await send(writer, ehlo)
        code, caps = await read_reply(reader, "EHLO")
        if code != 250:
            raise ProbeError(Failure.PROTOCOL, f"EHLO answered {code} {clip(caps[-1])}")
        offered = any(c.upper().split(" ")[0] == "STARTTLS" for c in caps[1:])
        text = "SMTP 220, EHLO 250"
        if not implicit and mode != "never" and (offered or mode == "required"):
            if not offered:
                raise ProbeError(Failure.TLS, "STARTTLS required but not offered")
            await send(writer, b"STARTTLS\r\n")
            code, lines = await read_reply(reader, "STARTTLS")
            if code != 220:
                raise ProbeError(Failure.TLS, f"STARTTLS refused: {code} {clip(lines[-1])}")
            await start_tls(writer, ctx, tls.server_name(check))
            await send(writer, ehlo)
            code, caps = await read_reply(reader, "EHLO after STARTTLS")
            if code != 250:
                raise ProbeError(Failure.PROTOCOL, f"EHLO after STARTTLS answered {code}")
            text += ", STARTTLS"
        await send(writer, b"QUIT\r\n")
        return _finish(check, writer, text)
    finally:
        await close(writer)


async def probe_pop3(check: Check) -> Outcome:
    ctx = tls.context_for(check) if check.protocol == "pop3s" else None
    reader, writer = await open_stream(check, ctx, tls.server_name(check))
    try:
        line = await read_line(reader, "POP3 greeting")
        if not line.startswith("+OK"):
            raise ProbeError(Failure.PROTOCOL, f"POP3 greeting {clip(line)!r}")
        await send(writer, b"QUIT\r\n")
        return _finish(check, writer, "POP3 +OK")
    finally:
        await close(writer)


async def probe_imap(check: Check) -> Outcome:
    ctx = tls.context_for(check) if check.protocol == "imaps" else None
    reader, writer = await open_stream(check, ctx, tls.server_name(check))
    try:
        line = await read_line(reader, "IMAP greeting")
        if not line.startswith("* OK"):
            if line.startswith("* BYE"):
                raise ProbeError(Failure.PROTOCOL, f"IMAP server refuses: {clip(line)!r}")
            raise ProbeError(Failure.PROTOCOL, f"IMAP greeting {clip(line)!r}")
        await send(writer, b"m1 LOGOUT\r\n")
        return _finish(check, writer, "IMAP * OK")
    finally:
        await close(writer)
