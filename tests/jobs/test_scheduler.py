"""The worker hosts the scheduler: one per installation, whatever the number of workers."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from oemhost.jobs import worker as worker_mod


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import schedule_probe

    schedule_probe.REGISTERED.clear()
    schedule_probe.RAN.clear()
    monkeypatch.setattr(worker_mod, "SCHEDULE_MODULES", ["schedule_probe"])
    yield schedule_probe
    sys.modules.pop("schedule_probe", None)


def test_one_scheduler_and_it_moves_to_a_live_worker(jobenv, probe, wait_until):
    first = jobenv.start_worker(scheduler=True)
    second = jobenv.start_worker(scheduler=True)
    try:
        wait_until(lambda: probe.REGISTERED, what="a scheduler to start")
        assert probe.RAN.wait(10), "the scheduled job did not run"
        time.sleep(worker_mod.HOUSEKEEPING_EVERY + 1)  # the other worker had its chance
        holders = [w for w in (first, second) if w.worker.scheduler is not None]
        assert len(holders) == 1 and len(probe.REGISTERED) == 1
        assert probe.REGISTERED[0][1] is jobenv.settings
        holders[0].stop()
        other = second if holders[0] is first else first
        wait_until(lambda: other.worker.scheduler is not None,
                   timeout=worker_mod.HOUSEKEEPING_EVERY * 3, what="the other to take over")
        assert len(probe.REGISTERED) == 2
    finally:
        for w in (first, second):
            if w.thread.is_alive():
                w.stop()


def test_no_scheduler_when_told(jobenv, probe):
    w = jobenv.start_worker(scheduler=False)
    try:
        time.sleep(1)
        assert w.worker.scheduler is None and probe.REGISTERED == []
    finally:
        w.stop()
