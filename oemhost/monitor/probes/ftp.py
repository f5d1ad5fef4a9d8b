"""FTP and explicit FTPS: the ``220`` greeting, then (ftps) ``AUTH TLS`` and a handshake.

FTPS on hosting nodes is explicit TLS on the FTP port (RFC 4217), which is what clients
use and what the plans' ``ftps_required`` enforces.
"""

from __future__ import annotations

from datetime import UTC, datetime

from oemhost.monitor.checks import Check, Failure, Status
from oemhost.monitor.probes import tls
from oemhost.monitor.probes.base import (
    Outcome,
    ProbeError,
    clip,
    close,
    open_stream,
    read_reply,
    send,
    start_tls,
)


async def probe_ftp(check: Check) -> Outcome:
    reader, writer = await open_stream(check)
    try:
        code, lines = await read_reply(reader, "FTP greeting")
        if code != 220:
            raise ProbeError(Failure.PROTOCOL, f"FTP greeting {code} {clip(lines[-1])}")
        if check.protocol != "ftps":
            await send(writer, b"QUIT\r\n")
            return Outcome(Status.OK, f"FTP 220 {clip(lines[0], 60)}")
        await send(writer, b"AUTH TLS\r\n")
        code, lines = await read_reply(reader, "AUTH TLS")
        if code != 234:
            raise ProbeError(Failure.TLS, f"AUTH TLS refused: {code} {clip(lines[-1])}")
        await start_tls(writer, tls.context_for(check), tls.server_name(check))
        ssl_object = tls.ssl_object_of(writer)
        await send(writer, b"QUIT\r\n")
        return tls.cert_verdict(check, ssl_object, datetime.now(UTC), "FTP 220, AUTH TLS 234")
    finally:
        await close(writer)
