"""Alembic migrations of the state database: one revision per schema change since 0.1.0."""
