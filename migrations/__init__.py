"""Alembic migrations for the forecaster schema (installed as `forecaster_migrations`)."""
