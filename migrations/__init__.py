"""Alembic migrations of the valossa-ingest schema (installed with the package)."""
