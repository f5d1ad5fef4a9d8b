"""SOFT/HARD transitions and flapping (Nagios semantics)."""

from datetime import UTC, datetime, timedelta

import pytest

from oemhost.monitor.checks import CheckResult, Failure, Status
from oemhost.monitor.state import (
    FLAP_WINDOW,
    CheckState,
    StateType,
    apply,
    percent_state_change,
)

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def res(status: Status, minute: int = 0) -> CheckResult:
    return CheckResult("n1", "http", status, status.value, T0 + timedelta(minutes=minute),
                       failure=None if status is Status.OK else Failure.CONNECT)


def run(statuses, max_attempts=3, state=None):
    state = state or CheckState()
    trs = []
    for i, s in enumerate(statuses):
        state, tr = apply(state, res(s, i), max_attempts=max_attempts)
        trs.append(tr)
    return state, trs


def test_failure_is_soft_until_max_attempts():
    state, trs = run([Status.CRITICAL, Status.CRITICAL])
    assert (state.state_type, state.attempt, state.status) == (StateType.SOFT, 2,
                                                               Status.CRITICAL)
    assert state.hard_status is Status.OK and state.needs_retry
    assert not any(t.hard_change for t in trs)
    state, tr = apply(state, res(Status.CRITICAL, 2), max_attempts=3)
    assert state.state_type is StateType.HARD and state.hard_problem
    assert tr.hard_change and tr.problem
    assert state.since == T0  # the first failed result, not the confirmation


def test_soft_recovery_is_not_an_event():
    state, trs = run([Status.CRITICAL, Status.OK])
    assert state.status is Status.OK and state.state_type is StateType.HARD
    assert not trs[-1].recovered and not trs[-1].hard_change
    assert state.since is None and state.last_ok_at == T0 + timedelta(minutes=1)


def test_hard_recovery_and_severity_change():
    state, _ = run([Status.CRITICAL] * 3)
    state, tr = apply(state, res(Status.WARNING, 5), max_attempts=3)
    assert tr.hard_change and not tr.recovered and state.hard_status is Status.WARNING
    state, tr = apply(state, res(Status.WARNING, 6), max_attempts=3)
    assert not tr.hard_change
    state, tr = apply(state, res(Status.OK, 7), max_attempts=3)
    assert tr.recovered and tr.hard_change and tr.previous is Status.WARNING


def test_max_attempts_one_is_hard_at_once():
    state, trs = run([Status.CRITICAL], max_attempts=1)
    assert state.hard_problem and trs[0].problem


@pytest.mark.parametrize(("history", "expected"), [
    ("", 0.0), ("o", 0.0), ("oooo", 0.0), ("oc", 100.0), ("ococ", 100.0),
])
def test_percent_state_change_edges(history, expected):
    assert percent_state_change(history) == pytest.approx(expected)


def test_recent_changes_weigh_more():
    old_changes = "oc" * 5 + "o" * 11
    new_changes = "o" * 11 + "oc" * 5
    assert percent_state_change(new_changes) > percent_state_change(old_changes)


def test_flapping_starts_high_and_stops_low():
    state = CheckState()
    flips = [Status.OK, Status.CRITICAL] * FLAP_WINDOW
    started = stopped = False
    for i, s in enumerate(flips):
        state, tr = apply(state, res(s, i), max_attempts=3)
        started |= tr.flap_start
    assert started and state.flapping
    for i in range(FLAP_WINDOW):
        state, tr = apply(state, res(Status.OK, 100 + i), max_attempts=3)
        stopped |= tr.flap_stop
        if tr.flap_stop:
            assert state.flap_pct < 25.0
    assert stopped and not state.flapping
    assert len(state.history) == FLAP_WINDOW


def test_no_flapping_before_enough_history():
    state, trs = run([Status.OK, Status.CRITICAL, Status.OK, Status.CRITICAL])
    assert not state.flapping and not any(t.flap_start for t in trs)
