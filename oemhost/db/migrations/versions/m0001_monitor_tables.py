"""monitor: check states, probe results, incidents, notifications, infra actions

Revision ID: m0001_monitor
Revises:
Create Date: 2026-11-24 18:02:18
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m0001_monitor"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("monitor",)
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                     autoincrement=True, nullable=False)


def _fk_id(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                     nullable=nullable)


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _str(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "monitor_check_states",
        _str("node", 64), _str("protocol", 16), _str("status", 10), _str("state_type", 4),
        sa.Column("attempt", sa.Integer(), nullable=False), _str("hard_status", 10),
        _str("history", 32), sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("flap_pct", sa.Float(), nullable=False),
        _ts("since", True), _ts("last_ok_at", True), _ts("last_checked_at"),
        _ts("last_change_at"), _str("message", 500), _str("failure", 16, True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("cert_days_left", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("node", "protocol"),
    )
    op.create_table(
        "monitor_incidents",
        _id(), _str("node", 64), _str("service", 16), _str("status", 10),
        _ts("started_at"), _ts("detected_at"), _ts("recovered_at", True),
        sa.Column("failing", sa.JSON(), nullable=False),
        sa.Column("affected", sa.JSON(), nullable=False),
        _str("summary", 500), sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("remediation", sa.JSON(), nullable=False),
        _ts("notice_sent_at", True), _ts("report_due_at", True), _ts("report_send_at", True),
        _ts("report_sent_at", True), _ts("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_incidents_node", "monitor_incidents", ["node"])
    op.create_index("ix_monitor_incidents_status", "monitor_incidents", ["status"])
    op.create_index("uq_monitor_incidents_open", "monitor_incidents", ["node", "service"],
                    unique=True, sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_table(
        "monitor_probe_results",
        _id(), _str("node", 64), _str("protocol", 16), _ts("checked_at"), _str("status", 10),
        _str("state_type", 4), sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True), _str("failure", 16, True),
        sa.Column("cert_days_left", sa.Float(), nullable=True), _str("message", 500),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_probe_results_check", "monitor_probe_results",
                    ["node", "protocol", "checked_at"])
    op.create_index("ix_monitor_probe_results_checked_at", "monitor_probe_results",
                    ["checked_at"])
    op.create_table(
        "monitor_incident_events",
        _id(), _fk_id("incident_id", False), _ts("at"), _str("kind", 24),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["monitor_incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_incident_events_incident_id", "monitor_incident_events",
                    ["incident_id"])
    op.create_table(
        "monitor_infra_actions",
        _id(), _str("node", 64), _str("provider", 16), _str("action", 16),
        _fk_id("incident_id", True), _ts("requested_at"), _str("status", 10),
        _str("job_id", 64, True), _str("message", 500),
        sa.ForeignKeyConstraint(["incident_id"], ["monitor_incidents.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_infra_actions_node", "monitor_infra_actions",
                    ["node", "requested_at"])
    op.create_table(
        "monitor_notifications",
        _id(), _fk_id("incident_id", True), _str("kind", 16), _str("audience", 64),
        _str("language", 5), sa.Column("recipients", sa.JSON(), nullable=False),
        _str("subject", 300), sa.Column("body", sa.Text(), nullable=False), _str("status", 10),
        sa.Column("attempts", sa.Integer(), nullable=False), _str("error", 500, True),
        _str("message_id", 200, True), _ts("created_at"), _ts("sent_at", True),
        sa.ForeignKeyConstraint(["incident_id"], ["monitor_incidents.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_notifications_incident_id", "monitor_notifications",
                    ["incident_id"])
    op.create_index("uq_monitor_notifications_once", "monitor_notifications",
                    ["incident_id", "kind", "audience"], unique=True)


def downgrade() -> None:
    op.drop_table("monitor_notifications")
    op.drop_table("monitor_infra_actions")
    op.drop_table("monitor_incident_events")
    op.drop_table("monitor_probe_results")
    op.drop_table("monitor_incidents")
    op.drop_table("monitor_check_states")
