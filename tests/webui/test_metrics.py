"""/metrics serves the monitor's probe results to Prometheus, and only to whom it should."""

from __future__ import annotations

from datetime import UTC, datetime

from webui import create_app


def _record_probe(app):
    from oemhost.db.models.monitor import MonitorCheckState

    now = datetime.now(UTC)
    with app.extensions["oemhost_db"]() as s:
        s.add(MonitorCheckState(node="node1", protocol="smtp", status="critical",
                                state_type="hard", attempt=3, hard_status="critical",
                                last_checked_at=now, last_change_at=now, latency_ms=250.0))
        s.commit()


def test_metrics_from_loopback(app):
    _record_probe(app)
    c = app.test_client()
    r = c.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert r.status_code == 200
    assert r.content_type.startswith("text/plain")
    body = r.get_data(as_text=True)
    assert "# TYPE oemhost_incidents_open gauge" in body
    assert 'oemhost_probe_up{node="node1",protocol="smtp"} 0.0' in body
    assert 'oemhost_probe_latency_seconds{node="node1",protocol="smtp"} 0.25' in body


def test_metrics_hidden_from_other_addresses(app):
    r = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert r.status_code == 404


def test_metrics_token(settings, tmp_path):
    (settings.secrets_dir).mkdir(parents=True, exist_ok=True)
    (settings.secrets_dir / "metrics-token").write_text("s3cret-token\n")
    settings.raw["web"]["metrics_token_file"] = "metrics-token"
    app = create_app({"OEMHOST_SETTINGS": settings, "TESTING": True})
    try:
        c = app.test_client()
        far = {"REMOTE_ADDR": "192.0.2.7"}
        assert c.get("/metrics", environ_base=far).status_code == 404
        assert c.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 404
        bad = {"Authorization": "Bearer wrong"}
        assert c.get("/metrics", environ_base=far, headers=bad).status_code == 404
        good = {"Authorization": "Bearer s3cret-token"}
        r = c.get("/metrics", environ_base=far, headers=good)
        assert r.status_code == 200 and "oemhost_incidents_open" in r.get_data(as_text=True)
    finally:
        app.extensions["oemhost_engine"].dispose()
