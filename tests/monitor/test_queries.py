"""The read API of the panels, and the Prometheus exposition."""

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from oemhost.db import make_engine, migrate, session_factory, session_scope
from oemhost.db.models.monitor import (
    MonitorCheckState,
    MonitorIncident,
    MonitorIncidentEvent,
    MonitorNotification,
)
from oemhost.errors import NotFoundError
from oemhost.monitor.checks import Status
from oemhost.monitor.metrics import metrics_wsgi_app, render_metrics
from oemhost.monitor.queries import (
    count_incidents,
    get_incident,
    list_incidents,
    list_notifications,
    status_board,
)

T = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    migrate(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    with session_scope(factory) as s:
        for node, proto, status, stype, extra in [
            ("node1", "ping", "ok", "hard", {}),
            ("node1", "https", "warning", "hard", {"cert_days_left": 10.5}),
            ("node1", "http", "ok", "hard", {"latency_ms": 12.5}),
            ("node2", "ping", "critical", "hard", {}),
            ("node2", "http", "critical", "soft", {}),
        ]:
            s.add(MonitorCheckState(node=node, protocol=proto, status=status, state_type=stype,
                                    attempt=1, hard_status=status, history="o",
                                    flapping=False, flap_pct=0.0, last_checked_at=T,
                                    last_change_at=T, message=f"{proto} {status}", **extra))
        inc1 = MonitorIncident(node="node2", service="host", status="open", started_at=T,
                               detected_at=T, failing=["ping"], affected=["ping"],
                               summary="no reply", level=2, flapping=False, escalated=False,
                               remediation={}, updated_at=T)
        inc2 = MonitorIncident(node="node1", service="web", status="recovered",
                               started_at=T - timedelta(days=1), detected_at=T,
                               recovered_at=T, failing=[], affected=["http"], summary="x",
                               level=1, flapping=False, escalated=False, remediation={},
                               updated_at=T)
        s.add_all([inc1, inc2])
        s.flush()
        s.add(MonitorIncidentEvent(incident_id=inc2.id, at=T, kind="detected", message="d",
                                   data={"protocols": ["http"]}))
        s.add(MonitorIncidentEvent(incident_id=inc2.id, at=T, kind="recovered", message="r",
                                   data={}))
        for aud in ("ops", "reseller:acme", "reseller:beta"):
            s.add(MonitorNotification(incident_id=inc2.id, kind="report", audience=aud,
                                      language="ja", recipients=[f"{aud}@x.example"],
                                      subject=f"report to {aud}", body="body", status="sent",
                                      attempts=1, created_at=T, sent_at=T))
    yield factory
    engine.dispose()


def test_status_board(sessions):
    with sessions() as s:
        board = {n.node: n for n in status_board(s)}
        assert board["node1"].status is Status.WARNING and board["node1"].up is True
        assert [c.protocol for c in board["node1"].checks] == ["ping", "http", "https"]
        assert board["node2"].status is Status.CRITICAL and board["node2"].up is False
        assert board["node2"].open_incidents == [1]
        assert [n.node for n in status_board(s, nodes=["node1"])] == ["node1"]


def test_incident_list_detail_and_scoping(sessions):
    with sessions() as s:
        assert [i.id for i in list_incidents(s)] == [2, 1]
        assert [i.id for i in list_incidents(s, status="open")] == [1]
        assert [i.id for i in list_incidents(s, nodes=["node1"])] == [2]
        assert count_incidents(s, status="recovered") == 1
        d = get_incident(s, 2)
        assert [e.kind for e in d.timeline] == ["detected", "recovered"]
        assert len(d.notifications) == 3
        mine = get_incident(s, 2, nodes=["node1"], audience="reseller:acme")
        assert [n.audience for n in mine.notifications] == ["reseller:acme"]
        with pytest.raises(NotFoundError):
            get_incident(s, 2, nodes=["node2"])      # another reseller's node: not found
        with pytest.raises(NotFoundError):
            get_incident(s, 99)
        reports = list_notifications(s, kind="report", audience="reseller:beta")
        assert [r.subject for r in reports] == ["report to reseller:beta"]
        assert list_notifications(s, nodes=["node2"]) == []


def test_prometheus_exposition(sessions):
    body, ctype = render_metrics(sessions)
    assert ctype.startswith("text/plain")
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    up = {(s.labels["node"], s.labels["protocol"]): s.value
          for s in fams["oemhost_probe_up"].samples}
    assert up[("node1", "https")] == 1.0 and up[("node2", "ping")] == 0.0
    status = {(s.labels["node"], s.labels["protocol"]): s.value
              for s in fams["oemhost_probe_status"].samples}
    assert status[("node1", "https")] == 1.0 and status[("node2", "http")] == 2.0
    cert = fams["oemhost_tls_certificate_days_left"].samples
    assert [(s.labels["protocol"], s.value) for s in cert] == [("https", 10.5)]
    inc = {s.labels["service"]: s.value for s in fams["oemhost_incidents_open"].samples}
    assert inc == {"host": 1.0}
    hard = {(s.labels["node"], s.labels["protocol"]): s.value
            for s in fams["oemhost_probe_hard_state"].samples}
    assert hard[("node2", "http")] == 0.0


def test_wsgi_app_serves_metrics(sessions):
    app = metrics_wsgi_app(sessions)
    seen = {}

    def start_response(status, headers):
        seen["status"] = status

    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": ""},
                        start_response))
    assert seen["status"].startswith("200") and b"oemhost_probe_up" in body
