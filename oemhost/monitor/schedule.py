"""The monitor's jobs in the worker's APScheduler (3.x).

The job engine's worker imports this module (its ``SCHEDULE_MODULES``) and calls
:func:`register` once at start. Following FACTS.md (APScheduler 3.11): each job has a
stable ``id`` with ``replace_existing=True`` (a persistent job store keeps pickled
options), a ``"module:function"`` callable, an explicit ``misfire_grace_time`` (the
default of 1 s silently skips late runs), ``max_instances=1`` (a sweep never overlaps
itself) and ``coalesce=True`` (missed runs collapse into one).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from oemhost.config import Settings, load_settings
from oemhost.monitor.config import load_monitor_config

log = logging.getLogger(__name__)

SWEEP_JOB = "oemhost.monitor.sweep"
FOLLOWUP_JOB = "oemhost.monitor.followup"
MAIL_RATE_JOB = "oemhost.monitor.mail_rate"


def register(scheduler, settings: Settings) -> list[str]:
    """Add (or replace) the sweep and follow-up jobs; returns their ids."""
    cfg = load_monitor_config(settings)
    now = datetime.now(UTC)
    common = {"trigger": "interval", "replace_existing": True, "max_instances": 1,
              "coalesce": True, "misfire_grace_time": cfg.misfire_grace_time}
    scheduler.add_job(f"{__name__}:run_sweep", id=SWEEP_JOB, name="monitor: probe sweep",
                      seconds=cfg.tick, next_run_time=now + timedelta(seconds=5), **common)
    scheduler.add_job(f"{__name__}:run_followup", id=FOLLOWUP_JOB,
                      name="monitor: remediation follow-up, notices, reports",
                      seconds=cfg.followup_interval,
                      next_run_time=now + timedelta(seconds=cfg.followup_interval), **common)
    log.info("monitor: sweep every %g s, follow-up every %g s", cfg.tick, cfg.followup_interval)
    ids = [SWEEP_JOB, FOLLOWUP_JOB]
    if cfg.mail_rate_interval > 0:
        scheduler.add_job(f"{__name__}:run_mail_rate", id=MAIL_RATE_JOB,
                          name="monitor: mass-mail watch (mail_rate jobs)",
                          seconds=cfg.mail_rate_interval,
                          next_run_time=now + timedelta(seconds=60), **common)
        ids.append(MAIL_RATE_JOB)
    elif scheduler.get_job(MAIL_RATE_JOB) is not None:
        scheduler.remove_job(MAIL_RATE_JOB)
    return ids


def run_sweep() -> str:
    """Scheduler entry point: one sweep with the installation's settings."""
    from oemhost.monitor.engine import Monitor

    return Monitor(load_settings()).sweep().line()


def run_followup() -> str:
    from oemhost.monitor.engine import Monitor

    return Monitor(load_settings()).followup().line()


def run_mail_rate() -> str:
    """Queue the mass-mail watch's jobs; their results lock senders over their limit."""
    from oemhost.monitor.massmail import submit_mail_rate

    return f"mail_rate jobs {submit_mail_rate(load_settings()) or '-'}"
