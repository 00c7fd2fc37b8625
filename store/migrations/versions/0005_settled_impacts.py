"""Settled impacts: each restored incident's impact under one map version, derived once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from impactlens.store.types import UtcTimestamp

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the settled_impacts table."""
    op.create_table(
        "settled_impacts",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("map_version", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("settled_at", UtcTimestamp(), nullable=False),
        sa.Column("impact", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "source", "incident_id", "map_version", name=op.f("pk_settled_impacts")
        ),
    )


def downgrade() -> None:
    """Drop the settled_impacts table."""
    op.drop_table("settled_impacts")
