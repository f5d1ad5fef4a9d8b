"""usage: node and tenant usage samples, network counters, newest tenant figures

Revision ID: u0001_usage
Revises:
Create Date: 2026-11-24 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "u0001_usage"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("usage",)
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                     autoincrement=True, nullable=False)


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _str(name: str, length: int) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=False)


def _f(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Float(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "usage_node_samples",
        _id(), _str("node", 64), _ts("at"), _str("resolution", 5),
        sa.Column("samples", sa.Integer(), nullable=False),
        _f("disk_used_mb"), _f("disk_total_mb"), _f("mem_used_mb"), _f("mem_total_mb"),
        _f("load1", True), _f("net_rx_bps", True), _f("net_tx_bps", True),
        sa.Column("filesystems", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_usage_node_samples_series", "usage_node_samples",
                    ["node", "resolution", "at"])
    op.create_table(
        "usage_node_counters",
        _str("node", 64), _ts("at"), _str("boot_id", 64),
        sa.Column("counters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("node"),
    )
    op.create_table(
        "usage_tenant_samples",
        _id(), _str("tenant", 32), _str("node", 64), _ts("at"), _str("resolution", 5),
        sa.Column("samples", sa.Integer(), nullable=False),
        _f("web_mb"), _f("mail_mb"), _f("db_mb"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_usage_tenant_samples_series", "usage_tenant_samples",
                    ["tenant", "resolution", "at"])
    op.create_index("ix_usage_tenant_samples_at", "usage_tenant_samples", ["resolution", "at"])
    op.create_table(
        "usage_tenant_current",
        _str("tenant", 32), _str("node", 64), _ts("at"),
        _f("web_mb"), _f("mail_mb"), _f("db_mb"),
        _f("web_limit_mb", True), _f("mail_limit_mb", True), _f("total_limit_mb", True),
        sa.Column("mailboxes", sa.JSON(), nullable=False),
        sa.Column("databases", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )


def downgrade() -> None:
    op.drop_table("usage_tenant_current")
    op.drop_table("usage_tenant_samples")
    op.drop_table("usage_node_counters")
    op.drop_table("usage_node_samples")
