"""HTTP and HTTPS: a real ``GET`` and the status code of the answer.

Params: ``path`` ("/"), ``host`` (the Host header and SNI name; the address by default),
``ok_status`` ("200-399") and ``warn_status`` ("400-499"): any other code is CRITICAL.
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
    send,
)

_STATUS_LINE = re.compile(r"^HTTP/(\d)(?:\.(\d))? (\d{3})(?: (.*))?$")
_SAFE = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII: no spaces, no CR/LF


def parse_ranges(spec: str) -> list[tuple[int, int]]:
    """``"200-399,401"`` -> [(200, 399), (401, 401)]; raises ValueError on nonsense."""
    out = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        a, b = int(lo), int(hi or lo)
        if not (100 <= a <= b <= 599):
            raise ValueError(f"bad status range {part!r}")
        out.append((a, b))
    return out


def _in(code: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a <= code <= b for a, b in ranges)


def build_request(check: Check) -> bytes:
    path = str(check.params.get("path", "/"))
    host = str(check.params.get("host") or check.address)
    if not path.startswith("/") or not _SAFE.match(path) or not _SAFE.match(host):
        raise ProbeError(Failure.CONFIG, "bad path or host parameter", Status.UNKNOWN)
    if ":" in check.address and not check.params.get("host"):
        host = f"[{check.address}]"
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: oemhost-monitor\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n").encode("ascii")


async def probe_http(check: Check) -> Outcome:
    secure = check.protocol == "https"
    request = build_request(check)
    ctx = tls.context_for(check) if secure else None
    reader, writer = await open_stream(check, ctx, tls.server_name(check))
    try:
        await send(writer, request)
        line = await read_line(reader, "HTTP status line")
        ssl_object = tls.ssl_object_of(writer)
    finally:
        await close(writer)
    m = _STATUS_LINE.match(line)
    if not m:
        raise ProbeError(Failure.PROTOCOL, f"not an HTTP answer: {clip(line)!r}")
    code = int(m.group(3))
    text = f"HTTP {code} {clip(m.group(4) or '', 40)}".rstrip()
    try:
        ok = parse_ranges(check.params.get("ok_status", "200-399"))
        warn = parse_ranges(check.params.get("warn_status", "400-499"))
    except ValueError as exc:
        raise ProbeError(Failure.CONFIG, str(exc), Status.UNKNOWN) from None
    if _in(code, ok):
        if secure:
            return tls.cert_verdict(check, ssl_object, datetime.now(UTC), text)
        return Outcome(Status.OK, text)
    if _in(code, warn):
        return Outcome(Status.WARNING, text, Failure.STATUS)
    return Outcome(Status.CRITICAL, text, Failure.STATUS)
