"""backup: node backup status and the runs seen

Revision ID: bk0001_backup
Revises:
Create Date: 2026-11-24 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bk0001_backup"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("backup",)
depends_on: str | Sequence[str] | None = None

_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "backup_node_status",
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("configured", sa.Boolean(), nullable=False),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("result", sa.String(10), nullable=False),
        _ts("started_at"), _ts("finished_at"), _ts("last_success_at"),
        sa.Column("snapshot_id", sa.String(64), nullable=True),
        sa.Column("last_snapshot_id", sa.String(64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("added_bytes", sa.BigInteger(), nullable=True),
        sa.Column("files", sa.BigInteger(), nullable=True),
        sa.Column("tenants", sa.Integer(), nullable=True),
        sa.Column("databases", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("repository", sa.String(300), nullable=True),
        _ts("collected_at", False), _ts("configured_since"),
        sa.Column("incident_id", _BIGID, nullable=True),
        sa.PrimaryKeyConstraint("node"),
    )
    op.create_table(
        "backup_runs",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("result", sa.String(10), nullable=False),
        _ts("started_at"), _ts("finished_at", False),
        sa.Column("snapshot_id", sa.String(64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("added_bytes", sa.BigInteger(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("node", "finished_at", name="uq_backup_runs_node_time"),
    )
    op.create_index("ix_backup_runs_node", "backup_runs", ["node"])


def downgrade() -> None:
    op.drop_index("ix_backup_runs_node", table_name="backup_runs")
    op.drop_table("backup_runs")
    op.drop_table("backup_node_status")
