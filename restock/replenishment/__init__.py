"""Replenishment policy, order suggestions, allocation and alerts (pure functions, no I/O)."""
