"""Staff app, admin slice: account deactivation, session revocation, partner editing (issue 4).

Revision ID: 0004_staff_admin
Revises: 0003_returned
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0004_staff_admin"
down_revision: str | None = "0003_returned"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
