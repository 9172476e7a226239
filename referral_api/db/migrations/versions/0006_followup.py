"""Follow-up after return: consent, enrolment, waves, answers, imported responses (issue 8).

Revision ID: 0006_followup
Revises: 0005_signals
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from referral_api.db.base import UtcDateTime

revision: str = "0006_followup"
down_revision: str | None = "0005_signals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:  # batch: SQLite (the demo) too
        batch.add_column(sa.Column("followup_consent", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("followup_consent_at", UtcDateTime(), nullable=True))

    op.create_table(
        "followup_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id_enc", sa.Text(), nullable=True),
        sa.Column("chat_key", sa.String(64), nullable=True),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("partner", sa.String(16), nullable=False),
        sa.Column("return_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_enrolments")),
    )
    op.create_index(op.f("ix_followup_enrolments_chat_key"), "followup_enrolments",
                    ["chat_key"])
    op.create_table(
        "followup_waves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.SmallInteger(), nullable=False),
        sa.Column("months", sa.SmallInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sends", sa.SmallInteger(), nullable=False),
        sa.Column("last_sent_at", UtcDateTime(), nullable=True),
        sa.Column("answered_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["enrolment_id"], ["followup_enrolments.id"],
                                name=op.f("fk_followup_waves_enrolment_id_followup_enrolments"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_waves")),
        sa.UniqueConstraint("token", name=op.f("uq_followup_waves_token")),
    )
    op.create_index(op.f("ix_followup_waves_enrolment_id"), "followup_waves", ["enrolment_id"])
    op.create_index("ix_followup_waves_status_due_on", "followup_waves", ["status", "due_on"])
    op.create_table(
        "followup_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("wave_id", sa.Integer(), nullable=True),
        sa.Column("partner", sa.String(16), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("returned_month", sa.String(7), nullable=True),
        sa.Column("questionnaire_version", sa.SmallInteger(), nullable=True),
        sa.Column("info_source", sa.String(32), nullable=True),
        sa.Column("decision_1", sa.String(32), nullable=True),
        sa.Column("decision_2", sa.String(32), nullable=True),
        sa.Column("decision_3", sa.String(32), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["wave_id"], ["followup_waves.id"],
                                name=op.f("fk_followup_responses_wave_id_followup_waves"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_responses")),
        sa.UniqueConstraint("external_id", name=op.f("uq_followup_responses_external_id")),
        sa.UniqueConstraint("wave_id", name=op.f("uq_followup_responses_wave_id")),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("followup_wave_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("not_after", UtcDateTime(), nullable=True))
        batch.create_foreign_key(op.f("fk_outbox_followup_wave_id_followup_waves"),
                                 "followup_waves", ["followup_wave_id"], ["id"],
                                 ondelete="CASCADE")
        batch.create_index(op.f("ix_outbox_followup_wave_id"), ["followup_wave_id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index(op.f("ix_outbox_followup_wave_id"))
        batch.drop_constraint(op.f("fk_outbox_followup_wave_id_followup_waves"),
                              type_="foreignkey")
        batch.drop_column("not_after")
        batch.drop_column("followup_wave_id")
    op.drop_table("followup_responses")
    op.drop_index("ix_followup_waves_status_due_on", table_name="followup_waves")
    op.drop_index(op.f("ix_followup_waves_enrolment_id"), table_name="followup_waves")
    op.drop_table("followup_waves")
    op.drop_index(op.f("ix_followup_enrolments_chat_key"), table_name="followup_enrolments")
    op.drop_table("followup_enrolments")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("followup_consent_at")
        batch.drop_column("followup_consent")
