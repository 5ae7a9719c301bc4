"""Greedy engines (being written)."""
