"""trust working callbacks; fetch transcripts only when core shows speech

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Analyses made before this revision fetch every type they named, as they always did.
    op.add_column(
        "analyses",
        sa.Column(
            "result_types_explicit", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
    )
    op.add_column("analyses", sa.Column("poll_hint_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_analyses_ended_checks",
        "analyses",
        ["status_checked_at"],
        postgresql_where=sa.text("valossa_status IN ('finished', 'error')"),
    )


def downgrade() -> None:
    op.drop_index("ix_analyses_ended_checks", table_name="analyses")
    op.drop_column("analyses", "poll_hint_at")
    op.drop_column("analyses", "result_types_explicit")
