"""ICMP echo (ping) for many nodes from one socket, without root where the kernel allows.

Path 1 (non-root): an unprivileged ICMP datagram socket (``socket(AF_INET, SOCK_DGRAM,
IPPROTO_ICMP)``), allowed when the process's group is inside the sysctl
``net.ipv4.ping_group_range`` (Debian's default "1 0" allows nobody; set it, e.g.
``sysctl -w net.ipv4.ping_group_range="0 2147483647"``). The kernel sets the echo
identifier and routes the replies to the socket.

Path 2 (root / CAP_NET_RAW): a raw ICMP socket, filtered to echo replies (``ICMP_FILTER``),
with our own identifier to tell our replies from other pingers'.

One :class:`Pinger` serves every ping of a sweep: requests are sent from one socket and
replies matched by (source address, sequence number). IPv4 only for now.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import socket
import struct
import time
from contextvars import ContextVar
from dataclasses import dataclass

from oemhost.monitor.checks import Check, Failure, Status
from oemhost.monitor.probes.base import Outcome, ProbeError

ECHO_REQUEST, ECHO_REPLY = 8, 0
SOL_RAW, ICMP_FILTER = 255, 1          # <linux/icmp.h>: drop every type whose bit is set
PAYLOAD = b"oemhost-monitor-ping-" + bytes(range(35))   # 56 bytes like iputils ping


class IcmpUnavailable(Exception):
    """Neither an ICMP datagram nor a raw socket could be opened."""


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, checksum(header + PAYLOAD), ident, seq) + PAYLOAD


def open_icmp_socket() -> tuple[socket.socket, bool]:
    """(socket, is_raw): the datagram socket if permitted, else a raw one if privileged."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
        raw = False
    except OSError as dgram_exc:
        if dgram_exc.errno not in (errno.EACCES, errno.EPERM):
            raise IcmpUnavailable(f"ICMP datagram socket: {dgram_exc.strerror}") from None
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            raw = True
        except PermissionError:
            rng = _ping_group_range()
            raise IcmpUnavailable(
                f"ICMP not permitted: group {os.getgid()} is outside net.ipv4.ping_group_range "
                f"({rng}) and the process has no CAP_NET_RAW") from None
        sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", 0xFFFFFFFF & ~(1 << ECHO_REPLY)))
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return sock, raw


def _ping_group_range() -> str:
    try:
        with open("/proc/sys/net/ipv4/ping_group_range", encoding="ascii") as fh:
            return " ".join(fh.read().split())
    except OSError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class PingStats:
    sent: int
    received: int
    rtts: tuple[float, ...]

    @property
    def loss(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0


class Pinger:
    """Echo requests to many addresses over one socket; ``await ping(...)`` per address."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.sock, self.raw = open_icmp_socket()
        self._ident = os.getpid() & 0xFFFF
        self._seq = itertools.count(1)
        self._waiting: dict[tuple[str, int], tuple[asyncio.Future, float]] = {}
        self._loop.add_reader(self.sock.fileno(), self._readable)

    @property
    def mode(self) -> str:
        return "raw" if self.raw else "datagram"

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self._loop.remove_reader(self.sock.fileno())
            self.sock.close()
        for fut, _ in self._waiting.values():
            if not fut.done():
                fut.cancel()
        self._waiting.clear()

    def _readable(self) -> None:
        now = time.perf_counter()
        while True:
            try:
                data, (src, _port) = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # an ICMP error queued on the socket: the sender times out
            if self.raw:
                if len(data) < 20:
                    continue
                data = data[(data[0] & 0x0F) * 4:]
            if len(data) < 8:
                continue
            icmp_type, _code, _sum, ident, seq = struct.unpack_from("!BBHHH", data)
            if icmp_type != ECHO_REPLY or (self.raw and ident != self._ident):
                continue
            entry = self._waiting.pop((src, seq), None)
            if entry and not entry[0].done():
                entry[0].set_result(now - entry[1])

    async def _sendto(self, packet: bytes, address: str) -> None:
        """Non-blocking sendto; waits for room in the send buffer (uvloop has no
        ``sock_sendto``, so this does what it would)."""
        while True:
            try:
                self.sock.sendto(packet, (address, 0))
                return
            except (BlockingIOError, InterruptedError):
                ready = self._loop.create_future()
                fd = self.sock.fileno()
                self._loop.add_writer(fd, _wake, ready)
                try:
                    await ready
                finally:
                    self._loop.remove_writer(fd)

    async def _one(self, address: str, timeout: float) -> float | None:
        seq = next(self._seq) & 0xFFFF
        fut = self._loop.create_future()
        key = (address, seq)
        self._waiting[key] = (fut, time.perf_counter())
        try:
            await self._sendto(echo_request(self._ident, seq), address)
            self._waiting[key] = (fut, time.perf_counter())
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            return None
        except OSError as exc:  # e.g. network unreachable: counts as lost
            if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN):
                return None
            raise
        finally:
            self._waiting.pop(key, None)

    async def ping(self, address: str, count: int = 3, interval: float = 0.2,
                   timeout: float = 2.0) -> PingStats:
        tasks = []
        for i in range(count):
            if i:
                await asyncio.sleep(interval)
            tasks.append(asyncio.ensure_future(self._one(address, timeout)))
        rtts = [r for r in await asyncio.gather(*tasks) if r is not None]
        return PingStats(count, len(rtts), tuple(rtts))


def _wake(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


_current: ContextVar[list[Pinger | None] | None] = ContextVar("oemhost_pinger", default=None)


class PingerScope:
    """Within ``async with PingerScope():`` every ping shares one lazily opened Pinger."""

    def __init__(self) -> None:
        self._slot: list[Pinger | None] = [None]

    async def __aenter__(self) -> PingerScope:
        self._token = _current.set(self._slot)
        return self

    async def __aexit__(self, *exc) -> None:
        _current.reset(self._token)
        if self._slot[0] is not None:
            self._slot[0].close()


def _shared_pinger() -> tuple[Pinger, bool]:
    slot = _current.get()
    if slot is None:
        return Pinger(), True
    if slot[0] is None:
        slot[0] = Pinger()
    return slot[0], False


async def probe_ping(check: Check) -> Outcome:
    """Params: ``packets`` (3), ``packet_interval`` (0.2 s), ``wait`` (per packet, 2 s),
    ``warn_loss`` (34 %), ``warn_rtt`` (0.2 s)."""
    if ":" in check.address:
        raise ProbeError(Failure.CONFIG, "IPv6 ping is not supported yet", Status.UNKNOWN)
    count = max(1, int(check.params.get("packets", 3)))
    wait = min(float(check.params.get("wait", 2.0)), check.timeout)
    try:
        pinger, own = _shared_pinger()
    except IcmpUnavailable as exc:
        raise ProbeError(Failure.CONFIG, str(exc), Status.UNKNOWN) from None
    try:
        stats = await pinger.ping(check.address, count,
                                  float(check.params.get("packet_interval", 0.2)), wait)
    finally:
        if own:
            pinger.close()
    if not stats.received:
        return Outcome(Status.CRITICAL, f"no reply to {stats.sent} echo requests",
                       Failure.CONNECT)
    avg = sum(stats.rtts) / len(stats.rtts)
    text = (f"{stats.received}/{stats.sent} replies, rtt min/avg/max "
            f"{min(stats.rtts) * 1000:.2f}/{avg * 1000:.2f}/{max(stats.rtts) * 1000:.2f} ms")
    if stats.loss >= float(check.params.get("warn_loss", 34)):
        return Outcome(Status.WARNING, f"{stats.loss:.0f}% loss: {text}", Failure.LOSS,
                       latency=avg)
    if avg >= float(check.params.get("warn_rtt", 0.2)):
        return Outcome(Status.WARNING, f"slow: {text}", Failure.SLOW, latency=avg)
    return Outcome(Status.OK, text, latency=avg)
