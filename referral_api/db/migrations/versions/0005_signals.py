"""Anonymous signals and outreach campaigns (issue 7).

Revision ID: 0005_signals
Revises: 0004_staff_admin
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0005_signals"
down_revision: str | None = "0004_staff_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
