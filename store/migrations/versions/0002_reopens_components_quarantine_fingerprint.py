"""Incidents get reopened_at and service_component; quarantined rows get a fingerprint.

``reopened_at`` (when the incident was last reopened, as the source says) and
``service_component`` (a WBS element, business service or product: between CI and
service) are new canonical columns. ``quarantine.fingerprint`` identifies a quarantined
row (its source, reason and raw text), so that re-ingesting a file does not quarantine
its bad rows again; existing rows are fingerprinted here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from impactlens.store.types import UtcTimestamp

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_ROWS = 10_000  # quarantined rows fingerprinted per round trip


def _fingerprint(source: str | None, reason: str | None, raw: str | None) -> str:
    # Frozen here as `store.quarantine.fingerprint` computes it (a test checks they agree).
    text = json.dumps([source, reason, raw], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def upgrade() -> None:
    """Add the two incident columns and the quarantine fingerprint (filled, indexed)."""
    with op.batch_alter_table("incidents") as incidents:
        incidents.add_column(sa.Column("reopened_at", UtcTimestamp(), nullable=True))
        incidents.add_column(sa.Column("service_component", sa.String(), nullable=True))
    with op.batch_alter_table("quarantine") as quarantine:
        quarantine.add_column(sa.Column("fingerprint", sa.String(), nullable=True))
    table = sa.table(
        "quarantine",
        sa.column("id", sa.Integer()),
        sa.column("source", sa.String()),
        sa.column("reason", sa.String()),
        sa.column("raw", sa.Text()),
        sa.column("fingerprint", sa.String()),
    )
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, table.c.source, table.c.reason, table.c.raw)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BACKFILL_ROWS)
        ).all()
        if not rows:
            break
        connection.execute(
            table.update().where(table.c.id == sa.bindparam("row_id")),
            [
                {"row_id": row.id, "fingerprint": _fingerprint(row.source, row.reason, row.raw)}
                for row in rows
            ],
        )
        last = rows[-1].id
    op.create_index(op.f("ix_quarantine_fingerprint"), "quarantine", ["fingerprint"], unique=False)


def downgrade() -> None:
    """Drop the fingerprint and the two incident columns."""
    op.drop_index(op.f("ix_quarantine_fingerprint"), table_name="quarantine")
    with op.batch_alter_table("quarantine") as quarantine:
        quarantine.drop_column("fingerprint")
    with op.batch_alter_table("incidents") as incidents:
        incidents.drop_column("service_component")
        incidents.drop_column("reopened_at")
