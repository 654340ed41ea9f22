"""A frame about to be published, checked and converted to Arrow.

``prepare_frame`` turns a pandas DataFrame or pyarrow Table into the Arrow table
written for one day: a date32 ``as_of_date`` column holding that one day, distinct
column names, and key columns present, non-null and unique.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from restock.publish.paths import check_table_name


def _to_arrow(table: str, frame: Any) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(frame, pd.DataFrame):
        if not all(isinstance(c, str) for c in frame.columns):
            bad = [c for c in frame.columns if not isinstance(c, str)]
            raise ValueError(f"table {table!r}: column names must be text, got {bad!r}")
        try:
            return pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise ValueError(f"table {table!r}: cannot convert to Arrow: {exc}") from exc
    raise TypeError(f"table {table!r}: expected a pandas DataFrame or a pyarrow Table, got {type(frame).__name__}")


def as_date(value: Any) -> date:
    """A date from a date, a datetime, a pandas Timestamp or ISO text."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    if hasattr(value, "date") and callable(value.date):  # pandas.Timestamp
        day: date = value.date()
        return day
    raise TypeError(f"not a date: {value!r}")


def prepare_frame(
    table: str,
    frame: Any,
    as_of_date: date | str | None = None,
    key_columns: list[str] | None = None,
) -> tuple[pa.Table, date]:
    """Validate ``frame`` and return it as Arrow with a date32 ``as_of_date`` column.

    Raises ValueError (naming the table and column) when: the frame has no
    ``as_of_date`` column and none is given; its as_of_date values are mixed, null,
    or differ from the one given; column names repeat; key columns are missing,
    null or not unique.
    """
    check_table_name(table)
    data = _to_arrow(table, frame)
    names = data.column_names
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"table {table!r}: repeated column names {dupes}")
    wanted = as_date(as_of_date) if as_of_date is not None else None

    if "as_of_date" in names:
        col = data.column("as_of_date")
        try:
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                col = col.cast(pa.date32())  # ISO text
            elif not pa.types.is_date32(col.type):
                col = col.cast(pa.date32())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(
                f"table {table!r}: column 'as_of_date' of type {data.column('as_of_date').type} is not a date: {exc}"
            ) from exc
        if col.null_count:
            raise ValueError(f"table {table!r}: column 'as_of_date' has {col.null_count} null value(s)")
        distinct = sorted(v for v in col.unique().to_pylist())
        if len(distinct) > 1:
            shown = ", ".join(d.isoformat() for d in distinct[:5])
            raise ValueError(
                f"table {table!r}: column 'as_of_date' mixes {len(distinct)} dates"
                f" ({shown}{', ...' if len(distinct) > 5 else ''}); publish one day at a time"
            )
        if distinct and wanted is not None and distinct[0] != wanted:
            raise ValueError(
                f"table {table!r}: column 'as_of_date' holds {distinct[0]} but the day being published is {wanted}"
            )
        day = wanted if wanted is not None else (distinct[0] if distinct else None)
        if day is None:
            raise ValueError(f"table {table!r}: the frame is empty and no as_of_date was given")
        data = data.set_column(names.index("as_of_date"), "as_of_date", pa.array([day] * len(data), pa.date32()))
    else:
        if wanted is None:
            raise ValueError(f"table {table!r}: the frame has no 'as_of_date' column and no as_of_date was given")
        day = wanted
        data = data.append_column("as_of_date", pa.array([day] * len(data), pa.date32()))

    if key_columns:
        _check_keys(table, data, list(key_columns))
    return data, day


def _check_keys(table: str, data: pa.Table, key_columns: list[str]) -> None:
    missing = [c for c in key_columns if c not in data.column_names]
    if missing:
        raise ValueError(f"table {table!r}: key column(s) {missing} not in the frame")
    for c in key_columns:
        nulls = data.column(c).null_count
        if nulls:
            raise ValueError(f"table {table!r}: key column {c!r} has {nulls} null value(s)")
    if len(data) == 0:
        return
    counts = data.group_by(key_columns).aggregate([([], "count_all")])
    dup = counts.filter(pc.greater(counts.column("count_all"), 1))
    if len(dup):
        example = {c: dup.column(c)[0].as_py() for c in key_columns}
        raise ValueError(
            f"table {table!r}: key columns {key_columns} are not unique: {len(dup)} key(s) repeat, e.g. {example}"
        )
