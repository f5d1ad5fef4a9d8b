"""SOFT/HARD states and flapping, as Nagios defines them (pure logic, no I/O).

A check that was OK and fails enters a SOFT problem state; it is re-checked quickly
(``retry_interval``) and only after ``max_attempts`` consecutive failures does the problem
become HARD: only HARD changes open incidents, trigger remediation or count for notices.
A SOFT problem that recovers is a soft recovery: nothing happened.

Flapping: the last ``FLAP_WINDOW`` (21) results are kept; the percent state change is the
weighted share of results that differ from their predecessor (weights rise linearly from
0.8 for the oldest to 1.2 for the newest). A check starts flapping above ``flap_high``
(50 %) and stops below ``flap_low`` (25 %). A flapping check is never restarted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from oemhost.monitor.checks import CheckResult, Status

FLAP_WINDOW = 21
_CHAR = {Status.OK: "o", Status.WARNING: "w", Status.CRITICAL: "c", Status.UNKNOWN: "u"}


class StateType(enum.StrEnum):
    SOFT = "soft"
    HARD = "hard"


@dataclass(frozen=True)
class CheckState:
    """Where a check stands. ``since`` is the first failed result of the current problem."""

    status: Status = Status.OK
    state_type: StateType = StateType.HARD
    attempt: int = 1
    hard_status: Status = Status.OK
    history: str = ""
    flapping: bool = False
    flap_pct: float = 0.0
    since: datetime | None = None
    last_ok_at: datetime | None = None

    @property
    def hard_problem(self) -> bool:
        return self.state_type is StateType.HARD and self.status is not Status.OK

    @property
    def needs_retry(self) -> bool:
        return self.state_type is StateType.SOFT and self.status is not Status.OK


@dataclass(frozen=True)
class Transition:
    hard_change: bool = False       # the HARD state changed (problem, recovery, or severity)
    recovered: bool = False         # HARD problem -> OK
    problem: bool = False           # OK -> HARD problem
    flap_start: bool = False
    flap_stop: bool = False
    previous: Status = Status.OK


def percent_state_change(history: str) -> float:
    """Weighted percent of state changes over the history (oldest first)."""
    n = len(history)
    if n < 2:
        return 0.0
    changes = weights = 0.0
    for i in range(1, n):
        w = 0.8 + 0.4 * (i - 1) / max(1, n - 2)
        weights += w
        if history[i] != history[i - 1]:
            changes += w
    return 100.0 * changes / weights


def apply(state: CheckState, result: CheckResult, *, max_attempts: int = 3,
          flap_low: float = 25.0, flap_high: float = 50.0) -> tuple[CheckState, Transition]:
    """The state after ``result``, and what changed."""
    max_attempts = max(1, max_attempts)
    history = (state.history + _CHAR[result.status])[-FLAP_WINDOW:]
    pct = percent_state_change(history)
    flapping = state.flapping
    flap_start = flap_stop = False
    if len(history) >= FLAP_WINDOW // 2 and not flapping and pct > flap_high:
        flapping = flap_start = True
    elif flapping and pct < flap_low:
        flapping, flap_stop = False, True
    base = replace(state, history=history, flap_pct=pct, flapping=flapping)
    at = result.checked_at

    if result.status is Status.OK:
        new = replace(base, status=Status.OK, state_type=StateType.HARD, attempt=1,
                      hard_status=Status.OK, since=None, last_ok_at=at)
        recovered = state.hard_problem
        return new, Transition(hard_change=recovered, recovered=recovered,
                               flap_start=flap_start, flap_stop=flap_stop,
                               previous=state.hard_status)

    if state.hard_problem:  # already HARD: stays HARD, severity may change
        changed = result.status is not state.status
        new = replace(base, status=result.status, attempt=max_attempts,
                      hard_status=result.status)
        return new, Transition(hard_change=changed, flap_start=flap_start,
                               flap_stop=flap_stop, previous=state.hard_status)

    attempt = 1 if state.status is Status.OK else state.attempt + 1
    since = state.since if state.status is not Status.OK and state.since else at
    if attempt >= max_attempts:
        new = replace(base, status=result.status, state_type=StateType.HARD,
                      attempt=max_attempts, hard_status=result.status, since=since)
        return new, Transition(hard_change=True, problem=True, flap_start=flap_start,
                               flap_stop=flap_stop, previous=state.hard_status)
    new = replace(base, status=result.status, state_type=StateType.SOFT, attempt=attempt,
                  since=since)
    return new, Transition(flap_start=flap_start, flap_stop=flap_stop,
                           previous=state.hard_status)
