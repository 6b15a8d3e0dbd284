"""search index: extracted detections, occurrences, faces, speech; the indexing backlog

pg_trgm (contrib) gives fuzzy label and name matching. A trigger on `analyses` queues every
analysis that becomes finished (and the migration queues those finished before it), so the
worker's sweep indexes them whatever code path finished them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 21:41:59.547987
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ENQUEUE_FUNCTION = """
CREATE FUNCTION search_enqueue_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_backlog (analysis_id) VALUES (NEW.id)
    ON CONFLICT (analysis_id) DO UPDATE SET next_attempt_at = now(), attempts = 0;
    RETURN NULL;
END
$$
"""

ENQUEUE_TRIGGERS = (
    """
    CREATE TRIGGER trg_analyses_search_enqueue_insert AFTER INSERT ON analyses
    FOR EACH ROW WHEN (NEW.status = 'finished') EXECUTE FUNCTION search_enqueue_finished()
    """,
    """
    CREATE TRIGGER trg_analyses_search_enqueue_update AFTER UPDATE OF status ON analyses
    FOR EACH ROW WHEN (NEW.status = 'finished' AND OLD.status IS DISTINCT FROM 'finished')
    EXECUTE FUNCTION search_enqueue_finished()
    """,
)

# Analyses finished before this revision: only the newest finished one of each media counts.
BACKFILL = """
INSERT INTO search_backlog (analysis_id)
SELECT DISTINCT ON (customer_media_id) id FROM analyses WHERE status = 'finished'
ORDER BY customer_media_id, created_at DESC, id DESC
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "search_labels",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column(
            "tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, label)", persisted=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_labels")),
    )
    op.create_index("ix_search_labels_label", "search_labels", ["label"], unique=True)
    op.create_index(
        "ix_search_labels_trgm",
        "search_labels",
        ["label"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"label": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_search_labels_tsv", "search_labels", ["tsv"], unique=False, postgresql_using="gin"
    )
    op.create_table(
        "search_backlog",
        sa.Column("analysis_id", sa.Uuid(), nullable=False),
        sa.Column(
            "queued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_search_backlog_analysis_id_analyses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("analysis_id", name=op.f("pk_search_backlog")),
    )
    op.create_index("ix_search_backlog_due", "search_backlog", ["next_attempt_at"], unique=False)
    op.create_table(
        "search_media",
        sa.Column("analysis_id", sa.Uuid(), nullable=False),
        sa.Column("customer_media_id", sa.String(length=1024), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("duration_s", sa.REAL(), nullable=True),
        sa.Column("metadata_format", sa.String(length=32), nullable=True),
        sa.Column("speech_source", sa.String(length=64), nullable=True),
        sa.Column("detections_count", sa.Integer(), nullable=False),
        sa.Column("occurrences_count", sa.Integer(), nullable=False),
        sa.Column(
            "indexed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_search_media_analysis_id_analyses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("analysis_id", name=op.f("pk_search_media")),
    )
    op.create_index(
        "ix_search_media_customer_media_id", "search_media", ["customer_media_id"], unique=True
    )
    op.create_table(
        "search_detections",
        sa.Column("analysis_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("valossa_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("label_id", sa.Integer(), nullable=True),
        sa.Column("cid", sa.String(length=64), nullable=True),
        sa.Column("ext_refs", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("confidence", sa.REAL(), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("screen_time_s", sa.REAL(), nullable=True),
        sa.Column("first_s", sa.REAL(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["search_media.analysis_id"],
            name=op.f("fk_search_detections_analysis_id_search_media"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["label_id"],
            ["search_labels.id"],
            name=op.f("fk_search_detections_label_id_search_labels"),
        ),
        sa.PrimaryKeyConstraint("analysis_id", "seq", name=op.f("pk_search_detections")),
    )
    op.create_index(
        "ix_search_detections_label",
        "search_detections",
        ["label_id", "analysis_id"],
        unique=False,
        postgresql_include=["type", "confidence", "screen_time_s"],
    )
    op.create_table(
        "search_faces",
        sa.Column("analysis_id", sa.Uuid(), nullable=False),
        sa.Column("detection_seq", sa.Integer(), nullable=False),
        sa.Column("gender", sa.String(length=16), nullable=True),
        sa.Column("gender_confidence", sa.REAL(), nullable=True),
        sa.Column("gallery_id", sa.String(length=64), nullable=True),
        sa.Column("face_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("similarity", sa.REAL(), nullable=True),
        sa.Column("visible_s", sa.REAL(), nullable=True),
        sa.Column(
            "name_tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('simple'::regconfig, coalesce(name, ''))", persisted=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["search_media.analysis_id"],
            name=op.f("fk_search_faces_analysis_id_search_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("analysis_id", "detection_seq", name=op.f("pk_search_faces")),
    )
    op.create_index(
        "ix_search_faces_face_id",
        "search_faces",
        ["face_id"],
        unique=False,
        postgresql_where=sa.text("face_id IS NOT NULL"),
    )
    op.create_index(
        "ix_search_faces_name_trgm",
        "search_faces",
        ["name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
        postgresql_where=sa.text("name IS NOT NULL"),
    )
    op.create_index(
        "ix_search_faces_name_tsv",
        "search_faces",
        ["name_tsv"],
        unique=False,
        postgresql_using="gin",
        postgresql_where=sa.text("name IS NOT NULL"),
    )
    op.create_table(
        "search_occurrences",
        sa.Column("analysis_id", sa.Uuid(), nullable=False),
        sa.Column("detection_seq", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.REAL(), nullable=False),
        sa.Column("end_s", sa.REAL(), nullable=False),
        sa.Column("confidence", sa.REAL(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["search_media.analysis_id"],
            name=op.f("fk_search_occurrences_analysis_id_search_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "analysis_id", "detection_seq", "seq", name=op.f("pk_search_occurrences")
        ),
    )
    op.create_table(
        "search_speech",
        sa.Column("analysis_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.REAL(), nullable=False),
        sa.Column("end_s", sa.REAL(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, text)", persisted=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["search_media.analysis_id"],
            name=op.f("fk_search_speech_analysis_id_search_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("analysis_id", "seq", name=op.f("pk_search_speech")),
    )
    op.create_table(
        "search_speech_terms",
        sa.Column("analysis_id", sa.Uuid(), nullable=False),
        sa.Column("lexeme", sa.Text(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["search_media.analysis_id"],
            name=op.f("fk_search_speech_terms_analysis_id_search_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("analysis_id", "lexeme", name=op.f("pk_search_speech_terms")),
    )
    op.create_index(
        "ix_search_speech_terms_lexeme",
        "search_speech_terms",
        ["lexeme", "analysis_id"],
        unique=False,
        postgresql_include=["hits"],
    )
    op.execute(ENQUEUE_FUNCTION)
    for trigger in ENQUEUE_TRIGGERS:
        op.execute(trigger)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_analyses_search_enqueue_update ON analyses")
    op.execute("DROP TRIGGER IF EXISTS trg_analyses_search_enqueue_insert ON analyses")
    op.execute("DROP FUNCTION IF EXISTS search_enqueue_finished()")
    op.drop_index(
        "ix_search_speech_terms_lexeme",
        table_name="search_speech_terms",
        postgresql_include=["hits"],
    )
    op.drop_table("search_speech_terms")
    op.drop_table("search_speech")
    op.drop_table("search_occurrences")
    op.drop_index(
        "ix_search_faces_name_tsv",
        table_name="search_faces",
        postgresql_using="gin",
        postgresql_where=sa.text("name IS NOT NULL"),
    )
    op.drop_index(
        "ix_search_faces_name_trgm",
        table_name="search_faces",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
        postgresql_where=sa.text("name IS NOT NULL"),
    )
    op.drop_index(
        "ix_search_faces_face_id",
        table_name="search_faces",
        postgresql_where=sa.text("face_id IS NOT NULL"),
    )
    op.drop_table("search_faces")
    op.drop_index(
        "ix_search_detections_label",
        table_name="search_detections",
        postgresql_include=["type", "confidence", "screen_time_s"],
    )
    op.drop_table("search_detections")
    op.drop_index("ix_search_media_customer_media_id", table_name="search_media")
    op.drop_table("search_media")
    op.drop_index("ix_search_backlog_due", table_name="search_backlog")
    op.drop_table("search_backlog")
    op.drop_index("ix_search_labels_tsv", table_name="search_labels", postgresql_using="gin")
    op.drop_index(
        "ix_search_labels_trgm",
        table_name="search_labels",
        postgresql_using="gin",
        postgresql_ops={"label": "gin_trgm_ops"},
    )
    op.drop_index("ix_search_labels_label", table_name="search_labels")
    op.drop_table("search_labels")
    # pg_trgm stays: other objects in the database may use it.
