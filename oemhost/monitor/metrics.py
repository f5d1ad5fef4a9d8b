"""Prometheus metrics of the last probe results, for the web UI to mount.

The probes run in the worker; the metrics are read from the database at scrape time, so
any process (a web worker) can serve them::

    from oemhost.monitor.metrics import metrics_wsgi_app
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": metrics_wsgi_app(sessions)})

or from a Flask view: ``body, content_type = render_metrics(sessions)``.

Series (labels ``node``, ``protocol``):
``oemhost_probe_up`` (1 OK or WARNING, 0 otherwise), ``oemhost_probe_status`` (Nagios
code 0-3), ``oemhost_probe_latency_seconds``, ``oemhost_probe_last_check_timestamp_seconds``,
``oemhost_probe_hard_state`` (1 HARD, 0 SOFT), ``oemhost_probe_flapping``,
``oemhost_tls_certificate_days_left``; ``oemhost_incidents_open{service}``.
"""

from __future__ import annotations

from collections import Counter

from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from oemhost.db.models.monitor import MonitorCheckState, MonitorIncident
from oemhost.monitor.checks import Status


class MonitorCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def collect(self):
        labels = ["node", "protocol"]
        up = GaugeMetricFamily("oemhost_probe_up", "Last probe answered (OK or WARNING)",
                               labels=labels)
        status = GaugeMetricFamily("oemhost_probe_status",
                                   "Last probe status (0 ok, 1 warning, 2 critical, 3 unknown)",
                                   labels=labels)
        latency = GaugeMetricFamily("oemhost_probe_latency_seconds", "Last probe latency",
                                    labels=labels)
        last = GaugeMetricFamily("oemhost_probe_last_check_timestamp_seconds",
                                 "When the check last ran (Unix time)", labels=labels)
        hard = GaugeMetricFamily("oemhost_probe_hard_state", "1 if the state is HARD",
                                 labels=labels)
        flap = GaugeMetricFamily("oemhost_probe_flapping", "1 if the check is flapping",
                                 labels=labels)
        cert = GaugeMetricFamily("oemhost_tls_certificate_days_left",
                                 "Days until the served certificate expires", labels=labels)
        incidents = GaugeMetricFamily("oemhost_incidents_open", "Open incidents",
                                      labels=["service"])
        with self.sessions() as session:
            for row in session.scalars(select(MonitorCheckState)):
                lv = [row.node, row.protocol]
                st = Status(row.status)
                up.add_metric(lv, 1.0 if st in (Status.OK, Status.WARNING) else 0.0)
                status.add_metric(lv, float(st.code))
                hard.add_metric(lv, 1.0 if row.state_type == "hard" else 0.0)
                flap.add_metric(lv, 1.0 if row.flapping else 0.0)
                last.add_metric(lv, row.last_checked_at.timestamp())
                if row.latency_ms is not None:
                    latency.add_metric(lv, row.latency_ms / 1000.0)
                if row.cert_days_left is not None:
                    cert.add_metric(lv, row.cert_days_left)
            counts = Counter(session.scalars(select(MonitorIncident.service).where(
                MonitorIncident.status == "open")))
        for service, n in sorted(counts.items()):
            incidents.add_metric([service], float(n))
        yield from (up, status, latency, last, hard, flap, cert, incidents)


def metrics_registry(sessions: sessionmaker[Session]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(sessions))
    return registry


def render_metrics(sessions: sessionmaker[Session]) -> tuple[bytes, str]:
    """(body, content type) of the exposition, for a Flask view."""
    return generate_latest(metrics_registry(sessions)), CONTENT_TYPE_LATEST


def metrics_wsgi_app(sessions: sessionmaker[Session]):
    """A WSGI app serving the exposition (mount it under /metrics)."""
    return make_wsgi_app(metrics_registry(sessions))
