"""`forecaster demo` and `forecaster demo-feed`: an offline tour."""
