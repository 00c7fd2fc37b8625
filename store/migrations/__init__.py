"""Alembic migrations of the incident store (applied by `store.upgrade_database`)."""
