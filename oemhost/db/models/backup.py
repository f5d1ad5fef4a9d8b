"""The backups' tables: the status of each node's backup, and the runs seen.

Filled by :mod:`oemhost.backup.collect` from what ``library/oemhost_backup_status.py``
reads on the nodes (``playbooks/collect_backup_status.yml`` and ``backup_now.yml``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oemhost.db import Base
from oemhost.db.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class BackupNodeStatus(Base):
    """The newest known backup status of one node (one row per node)."""

    __tablename__ = "backup_node_status"

    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    # ok | failed | stale | never | unconfigured | unknown: what the panel shows
    state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(500), default="")  # the state in one line
    configured: Mapped[bool] = mapped_column(Boolean)
    running: Mapped[bool] = mapped_column(Boolean, default=False)
    # the node's last run: ok | failed | never | unknown
    result: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    snapshot_id: Mapped[str | None] = mapped_column(String(64))
    last_snapshot_id: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    added_bytes: Mapped[int | None] = mapped_column(BigInteger)
    files: Mapped[int | None] = mapped_column(BigInteger)
    tenants: Mapped[int | None] = mapped_column(Integer)
    databases: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(500))
    repository: Mapped[str | None] = mapped_column(String(300))
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    configured_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first seen configured
    incident_id: Mapped[int | None] = mapped_column(_ID)  # the open monitor incident


class BackupRun(Base):
    """One finished backup run of a node, recorded once when first seen."""

    __tablename__ = "backup_runs"
    __table_args__ = (UniqueConstraint("node", "finished_at", name="uq_backup_runs_node_time"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(String(64), index=True)
    result: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    snapshot_id: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    added_bytes: Mapped[int | None] = mapped_column(BigInteger)
    duration_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(500))
