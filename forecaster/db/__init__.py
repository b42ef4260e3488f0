"""The SQL contract (models), engine/session factory, migrations and repository functions."""
