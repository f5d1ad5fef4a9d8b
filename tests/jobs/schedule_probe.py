"""A stand-in for the monitor's schedule module: records who registered and when it ran."""

from __future__ import annotations

import threading

REGISTERED: list[tuple[int, object]] = []
RAN = threading.Event()


def tick() -> None:
    RAN.set()


def register(scheduler, settings) -> None:
    REGISTERED.append((id(scheduler), settings))
    scheduler.add_job("schedule_probe:tick", "interval", seconds=0.2, id="probe-tick",
                      replace_existing=True)
