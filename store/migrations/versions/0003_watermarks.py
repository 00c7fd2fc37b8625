"""Watermarks: how far each incremental pull from a source has read.

One row per (source, name), such as ("servicenow", "incident.sys_updated_on@https://
example.service-now.com"): ``value`` is the watermark as text, ``updated_at`` when it was
last written.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from impactlens.store.types import UtcTimestamp

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the watermarks table."""
    op.create_table(
        "watermarks",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("updated_at", UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("source", "name", name=op.f("pk_watermarks")),
    )


def downgrade() -> None:
    """Drop the watermarks table."""
    op.drop_table("watermarks")
