"""Scorers: how unusual a smoothed error is, in [0, 1]."""
