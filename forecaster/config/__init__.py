"""Typed, validated settings (pydantic), one module per concern."""
