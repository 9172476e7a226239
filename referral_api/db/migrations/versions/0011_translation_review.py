"""Translations reviewed in context and recorded voice (issue 18): the translator's languages
on staff accounts, translation reviews, voice recordings.

Revision ID: 0011_translation_review
Revises: 0010_one_open_contact
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_translation_review"
down_revision: str | None = "0010_one_open_contact"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_accounts") as batch:
        batch.add_column(sa.Column("languages", sa.String(200), nullable=True))
    op.create_table(
        "translation_reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("msgid", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("staff_accounts.id"), nullable=False,
                  index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("locale", "msgid", name="uq_translation_review"),
    )
    op.create_table(
        "voice_recordings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("screen", sa.String(80), nullable=False),
        sa.Column("audio", sa.LargeBinary, nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("file_id", sa.String(255), nullable=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("staff_accounts.id"), nullable=False,
                  index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("locale", "screen", name="uq_voice_recording"),
    )


def downgrade() -> None:
    op.drop_table("voice_recordings")
    op.drop_table("translation_reviews")
    with op.batch_alter_table("staff_accounts") as batch:
        batch.drop_column("languages")
