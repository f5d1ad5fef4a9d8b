"""Usage samples (branch ``usage``): node figures and tenant disk usage over time.

Samples have a ``resolution``: ``raw`` (one per collection), ``hour`` and ``day`` (averages
made by the prune, ``samples`` says how many raw samples each holds). The last network
counters of each node are kept to turn counters into rates; the newest figures of each
tenant are kept in one row per tenant so a page of tenants is one query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from oemhost.db import Base
from oemhost.db.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")
RESOLUTIONS = ("raw", "hour", "day")


class UsageNodeSample(Base):
    __tablename__ = "usage_node_samples"
    __table_args__ = (Index("ix_usage_node_samples_series", "node", "resolution", "at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolution: Mapped[str] = mapped_column(String(5), default="raw")
    samples: Mapped[int] = mapped_column(Integer, default=1)
    disk_used_mb: Mapped[float] = mapped_column(Float)
    disk_total_mb: Mapped[float] = mapped_column(Float)
    mem_used_mb: Mapped[float] = mapped_column(Float)
    mem_total_mb: Mapped[float] = mapped_column(Float)
    load1: Mapped[float | None] = mapped_column(Float)
    net_rx_bps: Mapped[float | None] = mapped_column(Float)  # bits per second
    net_tx_bps: Mapped[float | None] = mapped_column(Float)
    # raw samples only: [{"mount", "fstype", "used_mb", "total_mb"}]
    filesystems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class UsageNodeCounters(Base):
    """The newest network byte counters of a node (the base of the next rate)."""

    __tablename__ = "usage_node_counters"

    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    boot_id: Mapped[str] = mapped_column(String(64), default="")
    counters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class UsageTenantSample(Base):
    __tablename__ = "usage_tenant_samples"
    __table_args__ = (Index("ix_usage_tenant_samples_series", "tenant", "resolution", "at"),
                      Index("ix_usage_tenant_samples_at", "resolution", "at"))

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(32))
    node: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolution: Mapped[str] = mapped_column(String(5), default="raw")
    samples: Mapped[int] = mapped_column(Integer, default=1)
    web_mb: Mapped[float] = mapped_column(Float)
    mail_mb: Mapped[float] = mapped_column(Float)
    db_mb: Mapped[float] = mapped_column(Float, default=0.0)


class UsageTenantCurrent(Base):
    """The newest figures of each tenant, with its limits, mailboxes and databases."""

    __tablename__ = "usage_tenant_current"

    tenant: Mapped[str] = mapped_column(String(32), primary_key=True)
    node: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    web_mb: Mapped[float] = mapped_column(Float)
    mail_mb: Mapped[float] = mapped_column(Float)
    db_mb: Mapped[float] = mapped_column(Float, default=0.0)
    web_limit_mb: Mapped[float | None] = mapped_column(Float)
    mail_limit_mb: Mapped[float | None] = mapped_column(Float)
    total_limit_mb: Mapped[float | None] = mapped_column(Float)
    # {address: {"mb", "limit_mb", "messages"}}
    mailboxes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [{"engine", "name", "mb"}]
    databases: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
