"""Shared pieces of the protocol probes: the outcome type, errors and line I/O."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from oemhost.monitor.checks import Check, Failure, Status

#: The longest line a probe reads; a server sending more is answering something else.
MAX_LINE = 8192


@dataclass(frozen=True, slots=True)
class Outcome:
    """A probe's verdict before timing is added (see :func:`probes.run_check`)."""

    status: Status
    message: str
    failure: Failure | None = None
    cert_days_left: float | None = None
    latency: float | None = None       # overrides the measured wall time (ping: avg rtt)


class ProbeError(Exception):
    """The check failed in a way the probe understood; carries status and failure kind."""

    def __init__(self, failure: Failure, message: str, status: Status = Status.CRITICAL):
        super().__init__(message)
        self.failure = failure
        self.status = status


async def open_stream(check: Check, ssl_context: ssl.SSLContext | None = None,
                      server_hostname: str | None = None
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """TCP (optionally TLS) connection to the check's address and port."""
    try:
        return await asyncio.open_connection(
            check.address, check.port, ssl=ssl_context, limit=MAX_LINE * 2,
            server_hostname=(server_hostname or None) if ssl_context else None)
    except ssl.SSLError as exc:
        raise ProbeError(Failure.TLS, f"TLS handshake failed: {_ssl_reason(exc)}") from None
    except ConnectionRefusedError:
        raise ProbeError(Failure.CONNECT, f"connection refused on port {check.port}") from None
    except OSError as exc:
        raise ProbeError(Failure.CONNECT,
                         f"cannot connect to port {check.port}: {exc.strerror or exc}") from None


async def start_tls(writer: asyncio.StreamWriter, ctx: ssl.SSLContext,
                    server_hostname: str | None) -> None:
    """Upgrade a connection in-band (STARTTLS, AUTH TLS)."""
    try:
        await writer.start_tls(ctx, server_hostname=server_hostname or None)
    except ssl.SSLError as exc:
        raise ProbeError(Failure.TLS, f"TLS handshake failed: {_ssl_reason(exc)}") from None
    except (ConnectionError, OSError) as exc:
        raise ProbeError(Failure.TLS, f"connection lost during TLS handshake: {exc}") from None


def _ssl_reason(exc: ssl.SSLError) -> str:
    return getattr(exc, "verify_message", None) or exc.reason or str(exc)


async def read_line(reader: asyncio.StreamReader, what: str) -> str:
    """One CRLF-terminated line, decoded leniently; a closed connection is a failure."""
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProbeError(Failure.PROTOCOL,
                             f"{what}: connection closed mid-line") from None
        raise ProbeError(Failure.PROTOCOL, f"{what}: connection closed by server") from None
    except asyncio.LimitOverrunError:
        raise ProbeError(Failure.PROTOCOL, f"{what}: line too long") from None
    except (ConnectionError, OSError) as exc:
        raise ProbeError(Failure.CONNECT, f"{what}: {exc.__class__.__name__}") from None
    return raw.decode("utf-8", "replace").rstrip("\r\n")


async def read_reply(reader: asyncio.StreamReader, what: str) -> tuple[int, list[str]]:
    """A numbered reply as SMTP and FTP send it: ``250-first``... ``250 last``."""
    lines: list[str] = []
    while True:
        line = await read_line(reader, what)
        if len(line) < 3 or not line[:3].isdigit():
            raise ProbeError(Failure.PROTOCOL, f"{what}: unexpected reply {clip(line)!r}")
        lines.append(line[4:])
        if len(line) == 3 or line[3] == " ":
            return int(line[:3]), lines
        if len(lines) > 200:
            raise ProbeError(Failure.PROTOCOL, f"{what}: endless multi-line reply")


async def send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    try:
        await writer.drain()
    except (ConnectionError, OSError) as exc:
        raise ProbeError(Failure.CONNECT, f"connection lost: {exc.__class__.__name__}") from None


async def close(writer: asyncio.StreamWriter, grace: float = 1.0) -> None:
    """Close politely; a peer that does not finish its side within ``grace`` is cut."""
    writer.close()
    try:
        async with asyncio.timeout(grace):
            await writer.wait_closed()
    except (TimeoutError, ConnectionError, OSError, ssl.SSLError):
        writer.transport.abort()


def clip(text: str, limit: int = 120) -> str:
    """Keep server text short and on one line before it reaches a message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
