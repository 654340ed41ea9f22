"""The warehouse's analytics relations, described once: ``warehouse_tables.yml``.

Each entry (one per relation, named as the relation) gives ``relation``
(``<schema>.<name>``), ``kind`` (``table`` or ``view``), ``published``,
``description``, ``grain``, ``key`` and ``columns`` in order, each with ``type``
(DuckDB, as DESCRIBE shows it), ``nullable`` (optional, default true; tables only),
``unit`` (one of :data:`UNITS` or null) and ``description``. Types are those of
:data:`TYPES` or ``DECIMAL(p,s)`` (amounts: exact sums, the same on every run).

The code takes from it what it used to repeat: the DDL of every table
(:func:`create_table_sql`, :func:`ensure_tables`) and the column lists the writers
select (:func:`columns`). Views stay queries in the code; their entries describe
their columns. :mod:`restock.publish.catalog` renders the published entries as
``docs/tables.md``.

Plain Python: no Dagster, no duckdb import (a connection is passed in).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

REGISTRY_PATH = Path(__file__).with_name("warehouse_tables.yml")
TABLE_FIELDS = ("relation", "kind", "published", "description", "grain", "key", "columns")
COLUMN_FIELDS = ("type", "nullable", "unit", "description")  # nullable may be omitted
KINDS = ("table", "view")
TYPES = ("BOOLEAN", "INTEGER", "BIGINT", "DOUBLE", "DATE", "TIMESTAMP", "VARCHAR")
# and DECIMAL(p,s) with 1 <= p <= 38, 0 <= s <= p, written as DESCRIBE shows it
_DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")
UNITS = (
    "date",
    "id",
    "code",
    "text",
    "json",
    "flag",
    "count",
    "score 1..5",
    "ratio",
    "share 0..1",
    "cartons",
    "cartons/week",
    "cartons/day",
    "cartons/case",
    "cases",
    "days",
    "weeks",
    "CNY",
    "CNY/carton",
    "by alert_type",
)
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser when PyYAML has it (10x faster)


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _where(path: tuple[Any, ...], key: Any) -> str:
    """``table 'x', column 'y'`` for a key at ``path`` (the mapping keys above it)."""
    parts = []
    if len(path) >= 2 and path[0] == "tables":
        parts.append(f"table {path[1]!r}")
        if len(path) >= 3 and path[2] == "columns":
            parts.append(f"column {path[3] if len(path) >= 4 else key!r}")
    elif len(path) == 1 and path[0] == "tables":
        parts.append(f"table {key!r}")
    return ", ".join(parts) or "registry"


def _no_repeated_keys(node: yaml.Node, path: tuple[Any, ...] = ()) -> None:
    """YAML keeps the last of a repeated key silently: refuse it, naming where."""
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = getattr(key_node, "value", None)
            if key in seen:
                raise ValueError(f"{_where(path, key)}: duplicate key {key!r} at line {key_node.start_mark.line + 1}")
            seen.add(key)
            _no_repeated_keys(value_node, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _no_repeated_keys(item, path)


def _validate_table(name: Any, table: Any) -> None:
    where = f"table {name!r}"
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{where}: the name must be a lower-case SQL identifier")
    if not isinstance(table, dict) or set(table) != set(TABLE_FIELDS):
        got = sorted(table) if isinstance(table, dict) else type(table).__name__
        raise ValueError(f"{where}: needs exactly the fields {list(TABLE_FIELDS)}, got {got}")
    for field in ("relation", "description", "grain"):
        if not _text(table[field]):
            raise ValueError(f"{where}: {field!r} must be a non-empty string")
    schema, _, relation = table["relation"].partition(".")
    if relation != name or not _IDENTIFIER.fullmatch(schema):
        raise ValueError(f"{where}: relation must be <schema>.{name}, got {table['relation']!r}")
    if table["kind"] not in KINDS:
        raise ValueError(f"{where}: kind must be one of {list(KINDS)}, got {table['kind']!r}")
    if not isinstance(table["published"], bool):
        raise ValueError(f"{where}: published must be true or false, got {table['published']!r}")
    columns = table["columns"]
    if not isinstance(columns, dict) or not columns:
        raise ValueError(f"{where}: 'columns' must be a non-empty mapping")
    for column, spec in columns.items():
        at = f"{where}, column {column!r}"
        if not isinstance(column, str) or not _IDENTIFIER.fullmatch(column):
            raise ValueError(f"{at}: the name must be a lower-case SQL identifier")
        if not isinstance(spec, dict) or not set(COLUMN_FIELDS) - {"nullable"} <= set(spec) <= set(COLUMN_FIELDS):
            got = sorted(spec) if isinstance(spec, dict) else type(spec).__name__
            raise ValueError(f"{at}: needs the fields type, unit, description (and optionally nullable), got {got}")
        if spec["type"] not in TYPES and not _is_decimal(spec["type"]):
            raise ValueError(f"{at}: type {spec['type']!r} is not one of {list(TYPES)} or DECIMAL(p,s)")
        if not _text(spec["description"]):
            raise ValueError(f"{at}: 'description' must be a non-empty string")
        if spec["unit"] is not None and spec["unit"] not in UNITS:
            raise ValueError(f"{at}: unit {spec['unit']!r} is not one of {list(UNITS)} (or null)")
        if "nullable" in spec:
            if not isinstance(spec["nullable"], bool):
                raise ValueError(f"{at}: nullable must be true or false, got {spec['nullable']!r}")
            if table["kind"] == "view":
                raise ValueError(f"{at}: nullable is for tables only (a view enforces nothing)")
    key = table["key"]
    if not isinstance(key, list) or not key or len(set(key)) != len(key):
        raise ValueError(f"{where}: 'key' must be a non-empty list of distinct columns, got {key!r}")
    unknown = [c for c in key if c not in columns]
    if unknown:
        raise ValueError(f"{where}: key column(s) {unknown} are not in its columns")
    if table["kind"] == "table":
        nullable = [c for c in key if columns[c].get("nullable", True)]
        if nullable:
            raise ValueError(f"{where}: key column(s) {nullable} must be nullable: false")
    if table["published"]:
        if "as_of_date" not in key:
            raise ValueError(f"{where}: key must include as_of_date (it is published by day)")
        if next(iter(columns)) != "as_of_date":
            raise ValueError(f"{where}: the first column must be as_of_date (it is published by day)")


def _is_decimal(type_: Any) -> bool:
    match = _DECIMAL.fullmatch(type_) if isinstance(type_, str) else None
    return match is not None and 1 <= int(match[1]) <= 38 and int(match[2]) <= int(match[1])


def validate(registry: Any) -> dict[str, Any]:
    """``registry`` checked; raises ValueError naming the table and column at fault."""
    if not isinstance(registry, dict) or set(registry) != {"tables"}:
        raise ValueError("registry: expected a mapping with the one key 'tables'")
    if not isinstance(registry["tables"], dict) or not registry["tables"]:
        raise ValueError("registry: 'tables' must be a non-empty mapping")
    for name, table in registry["tables"].items():
        _validate_table(name, table)
    return registry


def load(path: Path | str | None = None) -> dict[str, Any]:
    """The validated registry read from ``path`` (default: warehouse_tables.yml), not
    cached: ``{"tables": {name: {relation, kind, published, ..., columns}}}``."""
    path = Path(path) if path is not None else REGISTRY_PATH
    loader = _LOADER(path.read_text(encoding="utf-8"))
    try:
        node = loader.get_single_node()
        if node is not None:
            _no_repeated_keys(node)
        registry = loader.construct_document(node) if node is not None else None
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    finally:
        loader.dispose()
    try:
        return validate(registry)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


@functools.cache
def registry() -> dict[str, Any]:
    """The registry of warehouse_tables.yml, loaded once per process. Shared: do not modify."""
    return load()


def table(name: str) -> dict[str, Any]:
    """The entry of relation ``name`` (KeyError naming it if there is none)."""
    tables = registry()["tables"]
    if name not in tables:
        raise KeyError(f"{name!r} is not in {REGISTRY_PATH.name} (known: {', '.join(tables)})")
    entry: dict[str, Any] = tables[name]
    return entry


def columns(name: str) -> list[str]:
    """The columns of relation ``name``, in order (a new list)."""
    return list(table(name)["columns"])


def decimal_scale(name: str, column: str) -> int:
    """The scale (digits after the point) of DECIMAL column ``column`` of ``name``."""
    type_ = table(name)["columns"][column]["type"]
    match = _DECIMAL.fullmatch(type_)
    if match is None:
        raise ValueError(f"{name}.{column} is {type_}, not DECIMAL(p,s)")
    return int(match[2])


def create_table_sql(name: str) -> str:
    """``create table if not exists <relation> (<column> <type> [not null], ...)``."""
    entry = table(name)
    if entry["kind"] != "table":
        raise ValueError(f"{name!r} is a {entry['kind']}, not a table: the code creates it")
    parts = [
        f'"{column}" {spec["type"]}' + ("" if spec.get("nullable", True) else " not null")
        for column, spec in entry["columns"].items()
    ]
    return f"create table if not exists {entry['relation']} (\n    " + ",\n    ".join(parts) + "\n)"


def ensure_tables(con: DuckDBPyConnection, names: Iterable[str]) -> None:
    """Create the schemas and tables ``names`` that do not exist yet. An existing table
    is left as it is, but for two migrations: a column the registry declares
    ``DECIMAL(p,s)`` that the table holds as DOUBLE (amounts before issue 12) is
    converted in place, its values rounded to the scale; nullable columns the registry
    adds after the table's last column are added (null in the existing rows)."""
    names = list(names)
    statements = [create_table_sql(name) for name in names]
    for schema in dict.fromkeys(table(name)["relation"].split(".")[0] for name in names):
        con.execute(f"create schema if not exists {schema}")
    for statement in statements:
        con.execute(statement)
    for name in names:
        _decimal_columns_from_double(con, name)
        _trailing_columns_added(con, name)


def _trailing_columns_added(con: DuckDBPyConnection, name: str) -> None:
    """Add the registry's columns that an existing table lacks when they follow all of
    its columns, in order, and are nullable; any other difference is left as it is
    (only a migration written for it can fix that)."""
    entry = table(name)
    schema, relation = entry["relation"].split(".")
    found = [
        row[0]
        for row in con.execute(
            """select column_name from information_schema.columns
               where table_schema = ? and table_name = ? order by ordinal_position""",
            [schema, relation],
        ).fetchall()
    ]
    wanted = list(entry["columns"])
    if found == wanted or not found:
        return
    extra = wanted[len(found) :]
    if wanted[: len(found)] != found or any(not entry["columns"][c].get("nullable", True) for c in extra):
        return
    for column in extra:
        con.execute(f'alter table {entry["relation"]} add column "{column}" {entry["columns"][column]["type"]}')


def _decimal_columns_from_double(con: DuckDBPyConnection, name: str) -> None:
    entry = table(name)
    wanted = {c: spec["type"] for c, spec in entry["columns"].items() if _is_decimal(spec["type"])}
    if not wanted:
        return
    schema, relation = entry["relation"].split(".")
    found = con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, relation],
    ).fetchall()
    for column, data_type in found:
        if column in wanted and data_type == "DOUBLE":
            con.execute(
                f'alter table {entry["relation"]} alter column "{column}" set data type {wanted[column]} '
                f'using round("{column}", {decimal_scale(name, column)})'
            )


__all__ = [
    "REGISTRY_PATH",
    "TYPES",
    "UNITS",
    "columns",
    "create_table_sql",
    "decimal_scale",
    "ensure_tables",
    "load",
    "registry",
    "table",
    "validate",
]
