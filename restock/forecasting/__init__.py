"""Demand forecasting.

Pure building blocks (no I/O): :mod:`.models` and :mod:`.intermittent` (candidates),
:mod:`.selection` (rolling-origin backtest), :mod:`.metrics`, :mod:`.disaggregation`
(customer shares) and :mod:`.panel` (every series of one origin, in parallel).
With I/O on the warehouse: :mod:`.origins` (compute and store each forecast origin),
:mod:`.accuracy_review` (past forecasts against what happened) and :mod:`.tables`.
"""
