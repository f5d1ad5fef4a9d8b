"""The monitor's tables: check states, probe results, incidents and their timeline,
notifications sent, and infrastructure actions (level-2 reboots, rate-limited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oemhost.db import Base
from oemhost.db.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class MonitorCheckState(Base):
    """Where each check of each node stands (SOFT/HARD, flapping) and its last result."""

    __tablename__ = "monitor_check_states"

    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    state_type: Mapped[str] = mapped_column(String(4))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    hard_status: Mapped[str] = mapped_column(String(10))
    history: Mapped[str] = mapped_column(String(32), default="")
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    flap_pct: Mapped[float] = mapped_column(Float, default=0.0)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_change_at: Mapped[datetime] = mapped_column(UTCDateTime)
    message: Mapped[str] = mapped_column(String(500), default="")
    failure: Mapped[str | None] = mapped_column(String(16))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    cert_days_left: Mapped[float | None] = mapped_column(Float)


class MonitorProbeResult(Base):
    """Every probe result (bounded: pruned after ``retention_days``)."""

    __tablename__ = "monitor_probe_results"
    __table_args__ = (Index("ix_monitor_probe_results_check", "node", "protocol", "checked_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(16))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(10))
    state_type: Mapped[str] = mapped_column(String(4))
    attempt: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    failure: Mapped[str | None] = mapped_column(String(16))
    cert_days_left: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(String(500))


class MonitorIncident(Base):
    """One outage of one node (``service="host"``) or of one service group of a node.

    At most one open incident per node + service (a partial unique index)."""

    __tablename__ = "monitor_incidents"
    __table_args__ = (
        Index("uq_monitor_incidents_open", "node", "service", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(String(64), index=True)
    service: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10), index=True)       # open | recovered
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)         # first failed probe
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)        # confirmed (HARD)
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing: Mapped[list[str]] = mapped_column(JSON, default=list)    # protocols down now
    affected: Mapped[list[str]] = mapped_column(JSON, default=list)   # ever down
    summary: Mapped[str] = mapped_column(String(500), default="")
    level: Mapped[int] = mapped_column(Integer, default=0)            # highest level used
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)   # automation gave up
    remediation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notice_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    events: Mapped[list[MonitorIncidentEvent]] = relationship(
        back_populates="incident", order_by="MonitorIncidentEvent.id",
        cascade="all, delete-orphan")
    notifications: Mapped[list[MonitorNotification]] = relationship(
        back_populates="incident", order_by="MonitorNotification.id")


class MonitorIncidentEvent(Base):
    """A line of an incident's timeline: detected, remediation step and result, notice,
    recovered, report. ``kind`` is a fixed vocabulary (see oemhost.monitor.incidents)."""

    __tablename__ = "monitor_incident_events"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("monitor_incidents.id",
                                                        ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    incident: Mapped[MonitorIncident] = relationship(back_populates="events")


class MonitorNotification(Base):
    """A mail the monitor sent (or failed to send): notice or report, to one audience."""

    __tablename__ = "monitor_notifications"
    __table_args__ = (Index("uq_monitor_notifications_once", "incident_id", "kind", "audience",
                            unique=True),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitor_incidents.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16))         # notice | report
    audience: Mapped[str] = mapped_column(String(64))     # ops | reseller:<id>
    language: Mapped[str] = mapped_column(String(5))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))       # sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    incident: Mapped[MonitorIncident | None] = relationship(back_populates="notifications")


class MonitorInfraAction(Base):
    """A level-2 action on a node's infrastructure (the reboot rate limit reads these)."""

    __tablename__ = "monitor_infra_actions"
    __table_args__ = (Index("ix_monitor_infra_actions_node", "node", "requested_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))       # reboot
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitor_incidents.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10))       # done | submitted | failed
    job_id: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(500), default="")
