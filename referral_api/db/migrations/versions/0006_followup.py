"""Follow-up after return: consent, enrolment, waves, answers, imported responses (issue 8).

Revision ID: 0006_followup
Revises: 0005_signals
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0006_followup"
down_revision: str | None = "0005_signals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
