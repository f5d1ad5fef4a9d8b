"""The functions the panels' seam (webui.provider.monitoring) calls, through that seam."""

from datetime import UTC, datetime

import pytest

from oemhost.db import make_engine, migrate, session_factory, session_scope
from oemhost.db.models.monitor import MonitorCheckState, MonitorIncident, MonitorNotification

T = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@pytest.fixture
def seeded(env, monkeypatch):
    env.node("node1", "10.77.3.11", services=["web"], owner="acme")
    env.node("node2", "10.77.3.12", services=["web"])
    env.reseller("acme", ["noc@acme.example"])
    env.reseller("beta", ["ops@beta.example"])
    env.tenant("shop1", "beta", "node2")
    env.tenant("shop2", "acme", "node2")
    settings = env.settings()
    monkeypatch.setenv("OEMHOST_CONFIG", str(env.root / "oemhost.toml"))
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = session_factory(engine)
    with session_scope(factory) as s:
        for node, proto, status in [("node1", "ping", "ok"), ("node1", "http", "critical"),
                                    ("node2", "ping", "critical"), ("node2", "https", "ok")]:
            s.add(MonitorCheckState(node=node, protocol=proto, status=status, state_type="hard",
                                    attempt=1, hard_status=status, history="o", flapping=False,
                                    flap_pct=0.0, last_checked_at=T, last_change_at=T,
                                    message=proto))
        for node, service, status in [("node1", "web", "open"), ("node2", "host", "recovered")]:
            s.add(MonitorIncident(node=node, service=service, status=status, started_at=T,
                                  detected_at=T, recovered_at=T if status != "open" else None,
                                  failing=[], affected=["http"], summary=f"{node} down",
                                  level=1, flapping=False, escalated=False, remediation={},
                                  updated_at=T))
        s.flush()
        for aud in ("ops", "reseller:acme", "reseller:beta"):
            s.add(MonitorNotification(incident_id=2, kind="notice", audience=aud,
                                      language="ja", recipients=[aud], subject=f"to {aud}",
                                      body="b", status="sent", attempts=1, created_at=T,
                                      sent_at=T))
    yield factory
    engine.dispose()


def test_seam_sees_the_monitor(seeded):
    from webui.provider import monitoring

    with seeded() as session:
        view = monitoring.view(session)
        assert view.available
        assert [i.id for i in view.incidents] == [2, 1]
        i2 = view.incidents[0]
        assert (i2.status, i2.opened_at, i2.resolved_at) == ("resolved", T, T)
        assert i2.resellers == ["acme", "beta"] and i2.tenants_affected == ["shop1", "shop2"]
        assert {n.subject for n in view.notices} == {"to ops", "to reseller:acme",
                                                     "to reseller:beta"}
        assert view.node_status["node1"]["up"] is True
        assert view.node_status["node1"]["services"] == {"http": "failing"}
        assert view.node_status["node2"]["up"] is False


def test_reseller_scope(seeded):
    from webui.provider import monitoring

    with seeded() as session:
        beta = monitoring.view(session, reseller="beta")
        assert [i.node for i in beta.incidents] == ["node2"]     # not acme's node1
        assert beta.incidents[0].tenants_affected == ["shop1"]  # not acme's shop2
        assert [n.subject for n in beta.notices] == ["to reseller:beta"]
        acme = monitoring.view(session, reseller="acme", node="node1")
        assert [i.node for i in acme.incidents] == ["node1"]
        assert monitoring.view(session, reseller="beta", node="node1").incidents == []
