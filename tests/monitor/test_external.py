"""Incidents opened by other components (backups, mass mail): oemhost.monitor.external."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from oemhost.db import session_scope
from oemhost.db.models.monitor import MonitorIncident
from oemhost.errors import ValidationError
from oemhost.monitor.external import open_external_incident, resolve_external_incident

N1 = "10.200.1.11"


def test_external_incident_survives_sweeps_gets_one_notice_and_closes(world):
    world.node("node1", N1, services=["web"], owner="acme")
    world.env.reseller("acme", ["noc@acme.example"], locale="en", company="ACME")
    world.up(N1, ["web"])
    mon = world.monitor()
    mon.sweep()
    with session_scope(mon.sessions) as s:
        first = open_external_incident(s, "node1", "backup", "nightly backup failed",
                                       now=world.clock(), job=7)
    with session_scope(mon.sessions) as s:
        again = open_external_incident(s, "node1", "backup", "retry failed too",
                                       now=world.clock())
    assert again == first
    for _ in range(12):                      # probes all OK: the sweep leaves it alone
        world.clock.advance(minutes=1)
        mon.sweep()
        mon.followup()
    assert world.jobs.submitted == []        # nothing to restart for it
    with session_scope(mon.sessions) as s:
        inc = s.get(MonitorIncident, first)
        assert inc.status == "open" and inc.service == "backup"
        assert [e.kind for e in inc.events][:2] == ["detected", "check_failed"]
        assert inc.events[0].data["job"] == 7
        assert inc.notice_sent_at is not None
    notices = [m for m in world.smtpd.box.messages if "noc@acme.example" in m["to"]]
    assert len(notices) == 1
    assert "retry failed too" in notices[0]["msg"].get_content()
    with session_scope(mon.sessions) as s:
        assert resolve_external_incident(s, "node1", "backup", "backup succeeded",
                                         settings=world.env.settings(),
                                         now=world.clock()) == first
    with session_scope(mon.sessions) as s:
        inc = s.get(MonitorIncident, first)
        assert inc.status == "recovered"
        assert [e.kind for e in inc.events][-2:] == ["check_recovered", "recovered"]
        assert inc.report_send_at is not None        # it had a notice: a report follows
        assert resolve_external_incident(s, "node1", "backup", now=world.clock()) is None


@pytest.mark.parametrize(("node", "service", "summary"), [
    ("node1", "web", "probes own it"),
    ("node1", "Bad Name", "x"),
    ("node1", "backup", "   "),
    ("../x", "backup", "x"),
])
def test_bad_arguments_change_nothing(world, node, service, summary):
    mon = world.monitor()
    with session_scope(mon.sessions) as s:
        with pytest.raises(ValidationError):
            open_external_incident(s, node, service, summary)
        assert s.scalars(select(MonitorIncident)).all() == []


def test_recently_resolved_external_incident_is_reopened(world):
    mon = world.monitor()
    with session_scope(mon.sessions) as s:
        first = open_external_incident(s, "node1", "backup", "failed", now=world.clock())
        resolve_external_incident(s, "node1", "backup", now=world.clock())
    world.clock.advance(minutes=5)
    with session_scope(mon.sessions) as s:
        assert open_external_incident(s, "node1", "backup", "failed again",
                                      now=world.clock()) == first
        assert s.get(MonitorIncident, first).status == "open"
        assert world.clock() - s.get(MonitorIncident, first).started_at >= timedelta(minutes=5)
