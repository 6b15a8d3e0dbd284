"""webhooks: deliveries outlive their analysis, a status, leases, attempts, endpoint health

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 23:10:00.000000

Deliveries lose their foreign key (a DELETE of the media must neither delete a notification that
is owed nor, by a cascade racing the worker, make others go out again); a trigger NOTIFYs
`valossa_ingest_webhooks` whenever a delivery becomes due now, so a worker sends it at once.
Undelivered rows of the old `analysis.ended` shape are rewritten to the new envelope.
"""

import json
from collections.abc import Sequence
from urllib.parse import quote

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTIFY_FUNCTION = """
CREATE FUNCTION webhooks_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('valossa_ingest_webhooks', '');
    RETURN NULL;
END
$$
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER trg_webhooks_notify_due AFTER INSERT OR UPDATE OF next_attempt_at, status
ON webhooks FOR EACH ROW
WHEN (NEW.status = 'pending' AND NEW.next_attempt_at <= clock_timestamp())
EXECUTE FUNCTION webhooks_notify_due()
"""


def upgrade() -> None:
    op.drop_constraint("fk_webhooks_analysis_id_analyses", "webhooks", type_="foreignkey")
    op.add_column(
        "webhooks",
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "delivered",
                "failed",
                name="webhook_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            server_default="pending",
            nullable=False,
        ),
    )
    op.add_column("webhooks", sa.Column("tries", sa.Integer(), server_default="0", nullable=False))
    op.add_column("webhooks", sa.Column("claimed_by", sa.String(length=160), nullable=True))
    op.execute(
        "UPDATE webhooks SET status = CASE WHEN delivered_at IS NOT NULL THEN 'delivered' "
        "ELSE 'failed' END WHERE delivered_at IS NOT NULL OR gave_up_at IS NOT NULL"
    )
    _rewrite_old_payloads()
    op.drop_index(
        "ix_webhooks_due", table_name="webhooks", postgresql_where=sa.text("delivered_at IS NULL")
    )
    op.create_index(
        "ix_webhooks_due",
        "webhooks",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_webhooks_created", "webhooks", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_webhooks_status_created", "webhooks", ["status", "created_at", "id"], unique=False
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=160), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_attempts_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        "ix_webhook_attempts_webhook", "webhook_attempts", ["webhook_id", "id"], unique=False
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("url_sha256", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("url_sha256", name=op.f("pk_webhook_endpoints")),
    )
    op.execute(NOTIFY_FUNCTION)
    op.execute(NOTIFY_TRIGGER)


def _rewrite_old_payloads() -> None:
    """Undelivered notifications of the old shape get the envelope the CMS now expects."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT w.id, w.payload, w.created_at, a.finished_at FROM webhooks w "
            "LEFT JOIN analyses a ON a.id = w.analysis_id "
            "WHERE w.status = 'pending' AND w.payload->>'type' = 'analysis.ended'"
        )
    ).all()
    for webhook_id, old, created_at, finished_at in rows:
        stored = bind.execute(
            sa.text(
                "SELECT result_type FROM stored_results WHERE analysis_id = :id "
                "AND state = 'stored' ORDER BY result_type"
            ),
            {"id": old["analysis_id"]},
        ).scalars()
        status = old["status"]
        types = list(stored) if status == "finished" else []
        media = quote(old["customer_media_id"], safe="")
        payload = {
            "type": f"analysis.{status}",
            "timestamp": (finished_at or created_at).isoformat().replace("+00:00", "Z"),
            "data": {
                "analysis_id": old["analysis_id"],
                "customer_media_id": old["customer_media_id"],
                "status": status,
                "valossa_job_id": old.get("valossa_job_id"),
                "result_types": types,
                "error": old.get("error") if status == "failed" else None,
                "links": {
                    "analysis": f"/v1/analyses/{old['analysis_id']}",
                    "metadata": {t: f"/v1/media/{media}/metadata?type={t}" for t in types},
                },
            },
        }
        bind.execute(
            sa.text(
                "UPDATE webhooks SET payload = CAST(:payload AS jsonb), event_type = :type "
                "WHERE id = :id"
            ),
            {"payload": json.dumps(payload), "type": payload["type"], "id": webhook_id},
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_webhooks_notify_due ON webhooks")
    op.execute("DROP FUNCTION IF EXISTS webhooks_notify_due()")
    op.drop_table("webhook_endpoints")
    op.drop_index("ix_webhook_attempts_webhook", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhooks_status_created", table_name="webhooks")
    op.drop_index("ix_webhooks_created", table_name="webhooks")
    op.drop_index(
        "ix_webhooks_due", table_name="webhooks", postgresql_where=sa.text("status = 'pending'")
    )
    op.create_index(
        "ix_webhooks_due",
        "webhooks",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.execute(
        "UPDATE webhooks SET gave_up_at = coalesce(gave_up_at, now()) WHERE status = 'failed'"
    )
    op.drop_column("webhooks", "claimed_by")
    op.drop_column("webhooks", "tries")
    op.drop_column("webhooks", "status")
    # The old schema cascades from analyses: notifications of deleted analyses cannot stay.
    op.execute(
        "DELETE FROM webhooks w WHERE w.analysis_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM analyses a WHERE a.id = w.analysis_id)"
    )
    op.create_foreign_key(
        "fk_webhooks_analysis_id_analyses",
        "webhooks",
        "analyses",
        ["analysis_id"],
        ["id"],
        ondelete="CASCADE",
    )
