"""media in: the downloading state, transfer progress, direct uploads

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 22:27:56
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The status values before and after this revision (the CHECK constraint of `analyses`).
OLD_STATUSES = (
    "pending",
    "uploading",
    "submitting",
    "submitted",
    "fetching_results",
    "finished",
    "failed",
    "canceled",
)
NEW_STATUSES = ("pending", "downloading", *OLD_STATUSES[1:])


def _status_check(statuses: Sequence[str]) -> None:
    op.drop_constraint("analysis_status", "analyses", type_="check")
    op.create_check_constraint("analysis_status", "analyses", sa.column("status").in_(statuses))


def upgrade() -> None:
    _status_check(NEW_STATUSES)
    op.add_column(
        "analyses",
        sa.Column("download_attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("analyses", sa.Column("transfer_done_bytes", sa.BigInteger(), nullable=True))
    op.add_column("analyses", sa.Column("transfer_total_bytes", sa.BigInteger(), nullable=True))
    op.create_table(
        "uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=1024), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("chunk_size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("valossa_upload_id", sa.String(length=128), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("video_url", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    op.create_index("ix_uploads_expires_at", "uploads", ["expires_at"], unique=False)
    op.create_table(
        "upload_chunks",
        sa.Column("upload_id", sa.Uuid(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["uploads.id"],
            name=op.f("fk_upload_chunks_upload_id_uploads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", "chunk_index", name=op.f("pk_upload_chunks")),
    )


def downgrade() -> None:
    op.drop_table("upload_chunks")
    op.drop_index("ix_uploads_expires_at", table_name="uploads")
    op.drop_table("uploads")
    op.drop_column("analyses", "transfer_total_bytes")
    op.drop_column("analyses", "transfer_done_bytes")
    op.drop_column("analyses", "download_attempts")
    # Analyses caught downloading go back to the backlog, where the old code downloads them.
    op.execute("UPDATE analyses SET status = 'pending' WHERE status = 'downloading'")
    _status_check(OLD_STATUSES)
