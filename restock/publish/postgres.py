"""Optional PostgreSQL target: the published tables loaded into a server.

The caller passes the libpq URL (e.g. ``postgresql://user:pass@host:5432/db``) and
the schema; the pipeline takes them from ``restock.settings.Settings``
(``RESTOCK_POSTGRES_URL``, ``RESTOCK_POSTGRES_SCHEMA``). One transaction per day for
all the day's tables (``day_transaction``): lock the table names, create each table
when missing (columns from the frame's Arrow types; columns that a later frame adds
are added), delete the day, COPY the rows, commit. Readers see the previous complete
day of every table until the commit and the new day of all of them after it.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

log = logging.getLogger(__name__)

DEFAULT_SCHEMA = "restock"  # as restock.settings.Settings.postgres_schema
_COPY_CHUNK = 1 << 20


def pg_type(table: str, column: str, typ: pa.DataType) -> str:
    """The PostgreSQL column type for an Arrow type."""
    t = pa.types
    if t.is_dictionary(typ):
        return pg_type(table, column, typ.value_type)
    if t.is_boolean(typ):
        return "boolean"
    if t.is_int8(typ) or t.is_int16(typ) or t.is_uint8(typ):
        return "smallint"
    if t.is_int32(typ) or t.is_uint16(typ):
        return "integer"
    if t.is_int64(typ) or t.is_uint32(typ):
        return "bigint"
    if t.is_uint64(typ):
        return "numeric(20,0)"
    if t.is_float16(typ) or t.is_float32(typ):
        return "real"
    if t.is_float64(typ):
        return "double precision"
    if t.is_decimal(typ):
        return f"numeric({typ.precision},{typ.scale})"
    if t.is_string(typ) or t.is_large_string(typ) or t.is_null(typ):
        return "text"
    if t.is_date(typ):
        return "date"
    if t.is_timestamp(typ):
        return "timestamp with time zone" if typ.tz else "timestamp without time zone"
    if t.is_time(typ):
        return "time"
    if t.is_duration(typ):
        return "interval"
    raise ValueError(
        f"table {table!r}: column {column!r} of type {typ} has no PostgreSQL mapping"
        " (flatten nested or binary columns before publishing)"
    )


def _csv_ready(data: pa.Table) -> pa.Table:
    """Cast columns whose CSV text PostgreSQL would not read back exactly."""
    cols = []
    for field, col in zip(data.schema, data.columns, strict=True):
        typ = field.type
        if pa.types.is_dictionary(typ):
            col = col.cast(typ.value_type)
            typ = typ.value_type
        if pa.types.is_timestamp(typ) and typ.unit == "ns":
            col = col.cast(pa.timestamp("us", typ.tz), safe=False)
        elif pa.types.is_duration(typ):
            micros = col.cast(pa.duration("us"), safe=False).cast(pa.int64()).cast(pa.string())
            col = pc.binary_join_element_wise(micros, pa.scalar(" microseconds"), "")
        elif pa.types.is_null(typ):
            col = col.cast(pa.string())
        cols.append(col)
    return pa.table(cols, names=data.column_names)


class PostgresConnectionError(RuntimeError):
    """Connecting failed; the message never holds the password of the URL."""


# user:password@ in a URL (the password may itself hold ':' or '@' when malformed).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z]+://)(?P<user>[^:/@\s]*):(?P<password>\S*)@(?=[^@\s]*(?:/|$|\s))")


def redact(text: str, url: str) -> str:
    """``text`` with the password of ``url`` (and any user:password@ of a URL) hidden."""
    password = _password_of(url)
    if password:
        text = text.replace(password, "***")
    return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def _password_of(url: str) -> str | None:
    match = _URL_CREDENTIALS.search(url)
    return match["password"] if match and match["password"] else None


def connect(url: str) -> Any:
    """psycopg.connect(url); a failure says what went wrong without the password, and
    the original exception (whose message may quote it) is not chained: Dagster
    stores the whole error in the event log."""
    import psycopg

    try:
        return psycopg.connect(url)
    except psycopg.Error as exc:
        message = redact(str(exc).strip(), url)
        raise PostgresConnectionError(
            f"PostgreSQL connection failed (RESTOCK_POSTGRES_URL, password hidden): {message}"
        ) from None


def load_day(
    url: str,
    table: str,
    as_of_date: date,
    data: pa.Table,
    *,
    schema: str,
) -> int:
    """Replace ``as_of_date`` of ``schema.table`` with ``data`` in one transaction."""
    with day_transaction(url, as_of_date, {table: data}, schema=schema):
        pass
    return len(data)


@contextmanager
def day_transaction(url: str, as_of_date: date, tables: Mapping[str, pa.Table], *, schema: str) -> Iterator[None]:
    """Replace ``as_of_date`` of every table in ``tables`` inside one transaction, which
    is committed when the ``with`` block ends without error and rolled back otherwise.

    The caller swaps its other copies of the day (Parquet, serving.duckdb) inside the
    block, so a failure there, or of the commit itself (raised on leaving the block),
    leaves PostgreSQL on the previous complete day; readers of PostgreSQL see the
    previous day of every table until the commit and the new day of all after it."""
    started = time.perf_counter()
    with connect(url) as conn:  # commits on leaving the block, rolls back on an exception
        with conn.cursor() as cur:
            # Publishers of the same tables serialize here (CREATE TABLE IF NOT EXISTS
            # races); sorted, so two publishers never wait for each other crosswise.
            for table in sorted(tables):
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{schema}.{table}"])
            replaced = {table: _replace_day(cur, schema, table, as_of_date, data) for table, data in tables.items()}
        yield
    log.info(
        "postgres: %s as_of_date=%s: %s committed in %.2fs",
        schema,
        as_of_date,
        ", ".join(f"{t} {len(tables[t])} rows ({replaced[t]} replaced)" for t in tables),
        time.perf_counter() - started,
    )


def _replace_day(cur: Any, schema: str, table: str, as_of_date: date, data: pa.Table) -> int:
    """In the cursor's transaction: create/extend ``schema.table`` for ``data``'s
    columns, delete the day, COPY the rows. Returns the rows deleted."""
    from psycopg import sql

    columns = data.column_names
    types = {f.name: pg_type(table, f.name, f.type) for f in data.schema}
    qualified = sql.Identifier(schema, table)
    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    cur.execute(
        sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
            qualified,
            sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c])) for c in columns),
        )
    )
    cur.execute(
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (as_of_date)").format(
            sql.Identifier(f"{table}_as_of_date_idx"), qualified
        )
    )
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        [schema, table],
    )
    existing = {r[0] for r in cur.fetchall()}
    for c in columns:
        if c not in existing:
            log.info("postgres: adding column %s.%s.%s %s", schema, table, c, types[c])
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(qualified, sql.Identifier(c), sql.SQL(types[c]))
            )
    cur.execute(sql.SQL("DELETE FROM {} WHERE as_of_date = %s").format(qualified), [as_of_date])
    deleted: int = cur.rowcount
    buf = io.BytesIO()
    pacsv.write_csv(_csv_ready(data), buf, pacsv.WriteOptions(include_header=False))
    payload = buf.getbuffer()
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        qualified, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    with cur.copy(copy_sql) as copy:
        for start in range(0, len(payload), _COPY_CHUNK):
            copy.write(payload[start : start + _COPY_CHUNK])
    del payload
    return deleted


def delete_days_before(url: str, table: str, first_kept: date, *, schema: str) -> int:
    """Delete every day of ``schema.table`` before ``first_kept`` (retention catching up
    with days an interrupted run left behind); 0 when the table does not exist."""
    return _delete_days(url, table, schema, "<", first_kept)


def delete_day(url: str, table: str, as_of_date: date, *, schema: str) -> int:
    """Delete one day of ``schema.table`` (retention); 0 when the table does not exist."""
    return _delete_days(url, table, schema, "=", as_of_date)


def _delete_days(url: str, table: str, schema: str, comparison: Literal["<", "="], day: date) -> int:
    from psycopg import sql

    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", [f'"{schema}"."{table}"'])
        found = cur.fetchone()
        if found is None or found[0] is None:
            return 0
        statement = sql.SQL("DELETE FROM {} WHERE as_of_date " + comparison + " %s")
        cur.execute(statement.format(sql.Identifier(schema, table)), [day])
        return cur.rowcount
