"""Drift checks (branch ``drift``): what a check-mode converge of a node would change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oemhost.db import Base
from oemhost.db.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")
DRIFT_STATUSES = ("clean", "drift", "failed")


class DriftReport(Base):
    """One drift check of one node: ``clean``, ``drift`` (tasks would change) or ``failed``
    (the check itself did not complete: unreachable node, failing task)."""

    __tablename__ = "drift_reports"
    __table_args__ = (Index("ix_drift_reports_node", "node", "checked_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(String(64))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    changed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # [{"play", "task", "action", "diff" (text or None), "hidden" (no_log)}]
    tasks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
