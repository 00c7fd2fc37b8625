"""An index on incidents.resolved_at: a week's review reads the incidents active in its window.

"Active from `since` to `until`" is ``opened_at < until AND (resolved_at IS NULL OR
resolved_at >= since)``. With only the ``opened_at`` index, a store of ten years read
every incident opened before the week's end to find the ~250,000 a Monday review needs;
with this one the database finds the incidents resolved in the window and the open ones.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ix_incidents_resolved_at."""
    op.create_index(op.f("ix_incidents_resolved_at"), "incidents", ["resolved_at"], unique=False)


def downgrade() -> None:
    """Drop ix_incidents_resolved_at."""
    op.drop_index(op.f("ix_incidents_resolved_at"), table_name="incidents")
