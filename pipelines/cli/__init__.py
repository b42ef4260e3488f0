"""The `forecaster` command line."""
