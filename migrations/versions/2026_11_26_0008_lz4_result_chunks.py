"""stored result chunks compressed with lz4 where the server has it

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 04:10:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("migrations")

#: True when this Postgres can compress TOAST values with lz4: 14 or later, built --with-lz4
#: (NULL before 14, which has no such setting). Debian's packages have it; the embedded
#: Postgres of the tests and `make run` is built without it.
LZ4_SUPPORTED = sa.text(
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)


def upgrade() -> None:
    # Serving a stored result is bound by Postgres decompressing its 1 MiB chunks: pglz (the
    # default) decompresses far slower than lz4, for a similar size of JSON on disk. Without
    # lz4 the column keeps the server's default (pglz); storing it uncompressed would cost
    # ~4.6x the disk. Only values written from now on are compressed with lz4: existing rows
    # keep their pglz chunks (Postgres reads both) until their analysis is stored again.
    # The lock this takes is held only for the catalog change: no row is rewritten.
    if op.get_bind().execute(LZ4_SUPPORTED).scalar():
        op.execute("ALTER TABLE result_chunks ALTER COLUMN data SET COMPRESSION lz4")
        log.info("stored result chunks are compressed with lz4 from now on")
    else:
        log.info("this Postgres has no lz4: stored result chunks stay compressed with pglz")


def downgrade() -> None:
    # Back to the server's default_toast_compression; chunks written meanwhile stay lz4.
    if op.get_bind().execute(LZ4_SUPPORTED).scalar():
        op.execute("ALTER TABLE result_chunks ALTER COLUMN data SET COMPRESSION DEFAULT")
