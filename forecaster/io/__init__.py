"""Reading raw points: files (CSV, Parquet) and series sources (SQL tables)."""
