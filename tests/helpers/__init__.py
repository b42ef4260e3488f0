"""Helpers shared by the test lanes: plain modules, never test modules."""
