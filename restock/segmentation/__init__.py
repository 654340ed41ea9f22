"""Segmentation of customers and products (pure functions, no I/O)."""
