"""stored result chunks are LZ4 blocks written by the service, stored as they are

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 10:00:00
"""

import logging
from collections.abc import Sequence

import cramjam
import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("migrations")


def upgrade() -> None:
    # The service writes each chunk as one LZ4 block from now on (service/analyses/chunks.py).
    # Existing chunks hold the bytes as they are and say so: a constant default is only a
    # catalog change (Postgres 11 and later), no row is rewritten.
    op.add_column(
        "result_chunks",
        sa.Column("encoding", sa.String(16), server_default=sa.text("'identity'"), nullable=False),
    )
    # Out of line and not compressed again: Postgres would try to compress every block for
    # nothing, and a block it did shrink a little would cost decompressing on every read.
    # Only values written from now on; the lock is held for the catalog change alone.
    op.execute("ALTER TABLE result_chunks ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    # The code before this revision serves a chunk's data as it is: every lz4 chunk is
    # decompressed in place first, one at a time (a chunk holds at most 1 MiB), so that
    # nothing stored is lost or served as LZ4 blocks.
    op.execute("ALTER TABLE result_chunks ALTER COLUMN data SET STORAGE EXTENDED")
    bind = op.get_bind()
    keys = bind.execute(
        sa.text("SELECT analysis_id, result_type, seq FROM result_chunks WHERE encoding = 'lz4'")
    ).all()
    where = " WHERE analysis_id = :analysis_id AND result_type = :result_type AND seq = :seq"
    for analysis_id, result_type, seq in keys:
        key = {"analysis_id": analysis_id, "result_type": result_type, "seq": seq}
        block = bind.execute(sa.text("SELECT data FROM result_chunks" + where), key).scalar_one()
        plain = bytes(cramjam.lz4.decompress_block(block))
        bind.execute(
            sa.text("UPDATE result_chunks SET data = :plain" + where), {**key, "plain": plain}
        )
    if keys:
        log.info("%d stored result chunks decompressed from lz4", len(keys))
    op.drop_column("result_chunks", "encoding")
