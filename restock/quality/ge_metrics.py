"""GE's strftime check, evaluated once per distinct value (``register``, called by ``runner``).

Great Expectations 1.x checks ``expect_column_values_to_match_strftime_format`` on
pandas by calling ``datetime.strptime`` on every row (~10 µs a value, a third of a
raw gate's GE time: an orders file's ``order_date`` holds one value a thousand
times). ``register`` installs, for the pandas engine only and through GE's
custom-metric mechanism, a provider of the same metric
(``column_values.match_strftime_format``) that applies GE's very test
(``datetime.strptime(value, format)``: parses -> True, ``ValueError`` -> False,
``TypeError`` raised with GE's message) to each *distinct* value and spreads the
verdicts back to the rows. The same rows are flagged, so the expectation's verdict,
counts, failing rows and Data Docs stay GE's own. A column holding anything but
``str`` values is checked row by row, exactly as GE does.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

METRIC = "column_values.match_strftime_format"
_TYPE_ERROR = (
    "Values passed to expect_column_values_to_match_strftime_format must be of type string.\n"
    "If you want to validate a column of dates or timestamps, please call the expectation before "
    "converting from string format."
)
_PROVIDER: Any = None


def parses(value: Any, strftime_format: str) -> bool:
    """GE's per-value test (great_expectations/expectations/metrics/column_map_metrics/
    column_values_match_strftime_format.py, pandas)."""
    try:
        datetime.strptime(value, strftime_format)  # noqa: DTZ007 (a format check)
        return True
    except TypeError:
        raise TypeError(_TYPE_ERROR) from None
    except ValueError:
        return False


def matches_strftime_format(column, strftime_format: str):
    """Per row of ``column`` (a pandas Series): does the value parse with ``strftime_format``."""
    import numpy as np
    import pandas as pd

    if len(column) == 0 or pd.api.types.infer_dtype(column, skipna=False) != "string":
        return column.map(lambda value: parses(value, strftime_format))
    codes, uniques = pd.factorize(column)  # all str: no null, no -1 code
    verdicts = np.fromiter((parses(value, strftime_format) for value in uniques), dtype=bool, count=len(uniques))
    return pd.Series(verdicts[codes], index=column.index)


def register() -> None:
    """Install the provider (once per process; needs ``great_expectations`` imported)."""
    global _PROVIDER
    if _PROVIDER is not None:
        return
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.metrics.map_metric_provider import (
        ColumnMapMetricProvider,
        column_condition_partial,
    )

    # GE warns that the built-in provider is overwritten: that is the intent here.
    registry_log = logging.getLogger("great_expectations.expectations.registry")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)
    try:

        class DistinctValuesMatchStrftimeFormat(ColumnMapMetricProvider):
            condition_metric_name = METRIC
            condition_value_keys = ("strftime_format",)

            @column_condition_partial(engine=PandasExecutionEngine)
            def _pandas(cls, column, strftime_format, **kwargs):
                return matches_strftime_format(column, strftime_format)

    finally:
        registry_log.setLevel(level)
    _PROVIDER = DistinctValuesMatchStrftimeFormat
    if not registered():  # pragma: no cover - a GE release that registers metrics differently
        raise RuntimeError(f"could not install restock's provider of GE metric {METRIC}")


def registered() -> bool:
    """Is the pandas provider of the strftime metric this module's?"""
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.registry import get_metric_provider

    metric_class, _ = get_metric_provider(f"{METRIC}.condition", PandasExecutionEngine())
    return _PROVIDER is not None and metric_class is _PROVIDER
