"""Initial store: incidents, assignment history, quarantine and ingest runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from impactlens.store.types import UtcTimestamp

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCIDENT_TEXT_BEFORE_PRIORITY = ("state",)
INCIDENT_TEXT_AFTER_PRIORITY = (
    "ci",
    "service_id",
    "category",
    "subcategory",
    "assignment_group",
    "location",
    "support_tier",
)


def upgrade() -> None:
    """Create the four tables."""
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("file", sa.String(), nullable=False),
        sa.Column("format", sa.String(), nullable=False),
        sa.Column("started_at", UtcTimestamp(), nullable=False),
        sa.Column("finished_at", UtcTimestamp(), nullable=True),
        sa.Column("rows_read", sa.Integer(), server_default="0", nullable=False),
        sa.Column("new", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("quarantined", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_runs")),
    )
    op.create_table(
        "incidents",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("opened_at", UtcTimestamp(), nullable=True),
        sa.Column("resolved_at", UtcTimestamp(), nullable=True),
        sa.Column("closed_at", UtcTimestamp(), nullable=True),
        sa.Column("updated_at", UtcTimestamp(), nullable=True),
        *(sa.Column(name, sa.String(), nullable=True) for name in INCIDENT_TEXT_BEFORE_PRIORITY),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("impact", sa.Integer(), nullable=True),
        sa.Column("urgency", sa.Integer(), nullable=True),
        *(sa.Column(name, sa.String(), nullable=True) for name in INCIDENT_TEXT_AFTER_PRIORITY),
        sa.Column("reassignment_count", sa.Integer(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=True),
        sa.Column("problem_id", sa.String(), nullable=True),
        sa.Column("caused_by_change", sa.String(), nullable=True),
        sa.Column("short_description", sa.String(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("ingested_at", UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("source", "incident_id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_opened_at"), "incidents", ["opened_at"], unique=False)
    op.create_table(
        "assignment_history",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", UtcTimestamp(), nullable=True),
        sa.Column("assignment_group", sa.String(), nullable=True),
        sa.Column("support_tier", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("source", "incident_id", "seq", name=op.f("pk_assignment_history")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("problem", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("received_at", UtcTimestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ingest_runs.id"], name=op.f("fk_quarantine_run_id_ingest_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_run_id"), "quarantine", ["run_id"], unique=False)


def downgrade() -> None:
    """Drop the four tables."""
    op.drop_index(op.f("ix_quarantine_run_id"), table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_table("assignment_history")
    op.drop_index(op.f("ix_incidents_opened_at"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("ingest_runs")
