"""Replenishment: purchase plan, customer order suggestions, allocation of short supply
and inventory alerts.

Pure functions, no I/O: :mod:`.policy`, :mod:`.allocation`, :mod:`.alerts`, :mod:`.cycles`.
One as-of day against the warehouse: :mod:`.inputs` reads it, :mod:`.assemble` builds
the three tables (the exact rules are in its docstring), :mod:`.tables` writes them.
"""
