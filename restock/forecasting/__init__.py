"""Demand forecasting building blocks (pure functions, no I/O)."""
