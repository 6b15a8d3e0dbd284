"""worker core: status checked against its enum, callbacks and cancel requests in columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = (
    "pending",
    "uploading",
    "submitting",
    "submitted",
    "fetching_results",
    "finished",
    "failed",
    "canceled",
)


def upgrade() -> None:
    op.create_check_constraint(
        "analysis_status",
        "analyses",
        sa.column("status").in_(STATUSES),
    )
    op.add_column("analyses", sa.Column("callback_at", sa.DateTime(timezone=True)))
    op.add_column(
        "analyses",
        sa.Column("callback_wakeups", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("analyses", sa.Column("status_checked_at", sa.DateTime(timezone=True)))
    op.add_column("analyses", sa.Column("cancel_requested_at", sa.DateTime(timezone=True)))
    op.alter_column(
        "analyses", "claimed_by", type_=sa.String(length=160), existing_type=sa.String(128)
    )
    op.alter_column(
        "analysis_events",
        "at",
        server_default=sa.text("clock_timestamp()"),
        existing_server_default=sa.text("now()"),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column(
        "analysis_events",
        "at",
        server_default=sa.text("now()"),
        existing_server_default=sa.text("clock_timestamp()"),
        existing_nullable=False,
    )
    op.alter_column(
        "analyses", "claimed_by", type_=sa.String(length=128), existing_type=sa.String(160)
    )
    op.drop_column("analyses", "cancel_requested_at")
    op.drop_column("analyses", "status_checked_at")
    op.drop_column("analyses", "callback_wakeups")
    op.drop_column("analyses", "callback_at")
    op.drop_constraint("analysis_status", "analyses", type_="check")
