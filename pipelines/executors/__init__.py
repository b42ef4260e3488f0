"""Where a backfill's series run: in this process, in local worker processes, on Dask."""
