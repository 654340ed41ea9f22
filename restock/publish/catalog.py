"""The catalogue of the published tables and the BI reference generated from it.

``published_tables.yml`` (next to this module) describes each published table:
source relation, description, grain, key and its columns in order (type, unit,
description). :func:`load_catalog` reads and validates it, :func:`render_markdown`
turns it into ``docs/tables.md``. Plain Python, no Dagster import::

    python -m restock.publish.catalog          # rewrite docs/tables.md
    python -m restock.publish.catalog --check  # exit 1 if docs/tables.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

CATALOG_PATH = Path(__file__).with_name("published_tables.yml")
DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
TABLE_FIELDS = ("source", "description", "grain", "key", "columns")
COLUMN_FIELDS = ("type", "unit", "description")
UNITS = (
    "date", "id", "code", "text", "flag", "count", "score 1..5", "ratio", "share 0..1",
    "cartons", "cartons/week", "cartons/day", "cartons/case", "cases", "days", "weeks",
    "CNY", "CNY/carton", "by alert_type",
)

INTRO = """\
# Published tables

The tables Restock publishes for BI tools, one `as_of_date` (day) at a time. Every
table has `as_of_date` and is point-in-time: a day's rows use only data dated on or
before it, so a backfilled day equals what the daily run produced that day.

Where to read them (`RESTOCK_DATA_DIR`, default `data/`):

- **DuckDB**: `RESTOCK_DATA_DIR/serving.duckdb`, opened read-only
  (`duckdb.connect(path, read_only=True)`): a view per table with every served day,
  and a `<table>_latest` view with the newest `as_of_date` only. The file is replaced
  after each publish; reconnect to see new days.
- **Parquet**: `RESTOCK_DATA_DIR/published/<table>/as_of_date=<day>/*.parquet`, one
  folder per day (Hive-style partition), swapped in whole so a reader never sees a
  half-written day.
- **PostgreSQL** (optional): when `RESTOCK_POSTGRES_URL` is set, the same tables in
  schema `RESTOCK_POSTGRES_SCHEMA` (default `restock`), one transaction per table and day.

A day is published for all tables at once, only after every table passed its quality
gate (`expectations/published_<table>.json`). Only the days within
`publishing.retain_days` (restock.yaml, default 28) of the newest day are served; the
working warehouse keeps every day.

Units: quantities are in the product's sales unit, cartons (条) for the reference
distributor; amounts in the extracts' currency, CNY (yuan) there. Weeks run Monday to
Sunday. `key` lists the columns that identify a row. Settings quoted (limits, windows)
are the defaults of `restock.yaml`.
"""


def _mapping_loader() -> type:
    """A SafeLoader that rejects a key repeated in one mapping (YAML keeps the last)."""

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise ValueError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
            seen.add(key)
        return loader.construct_mapping(node, deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct)
    return Loader


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def validate(catalog: Any) -> dict:
    """``catalog`` checked; raises ValueError naming the table and column at fault."""
    if not isinstance(catalog, dict) or not isinstance(catalog.get("tables"), dict) or not catalog["tables"]:
        raise ValueError("catalogue: expected a mapping with a non-empty 'tables' mapping")
    for name, table in catalog["tables"].items():
        where = f"table {name!r}"
        if not isinstance(table, dict) or set(table) != set(TABLE_FIELDS):
            got = sorted(table) if isinstance(table, dict) else type(table).__name__
            raise ValueError(f"{where}: needs exactly the fields {list(TABLE_FIELDS)}, got {got}")
        for field in ("source", "description", "grain"):
            if not _text(table[field]):
                raise ValueError(f"{where}: {field!r} must be a non-empty string")
        if table["source"].count(".") != 1:
            raise ValueError(f"{where}: source must be <schema>.<relation>, got {table['source']!r}")
        columns = table["columns"]
        if not isinstance(columns, dict) or not columns:
            raise ValueError(f"{where}: 'columns' must be a non-empty mapping")
        for column, spec in columns.items():
            at = f"{where}, column {column!r}"
            if not isinstance(spec, dict) or set(spec) != set(COLUMN_FIELDS):
                got = sorted(spec) if isinstance(spec, dict) else type(spec).__name__
                raise ValueError(f"{at}: needs exactly the fields {list(COLUMN_FIELDS)}, got {got}")
            if not _text(spec["type"]) or not _text(spec["description"]):
                raise ValueError(f"{at}: 'type' and 'description' must be non-empty strings")
            if spec["unit"] is not None and spec["unit"] not in UNITS:
                raise ValueError(f"{at}: unit {spec['unit']!r} is not one of {list(UNITS)} (or null)")
        key = table["key"]
        if not isinstance(key, list) or not key or len(set(key)) != len(key):
            raise ValueError(f"{where}: 'key' must be a non-empty list of distinct columns, got {key!r}")
        unknown = [c for c in key if c not in columns]
        if unknown:
            raise ValueError(f"{where}: key column(s) {unknown} are not in its columns")
        if "as_of_date" not in key:
            raise ValueError(f"{where}: key must include as_of_date")
    return catalog


def load_catalog(path: Path | str | None = None) -> dict:
    """The validated catalogue: ``{"tables": {name: {source, description, grain, key, columns}}}``."""
    path = Path(path) if path is not None else CATALOG_PATH
    try:
        catalog = yaml.load(path.read_text(encoding="utf-8"), Loader=_mapping_loader())
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return validate(catalog)


def _flat(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def _cell(value: Any) -> str:
    """One line, with ``|`` escaped for a Markdown table cell."""
    return _flat(value).replace("|", "\\|")


def render_markdown(catalog: dict) -> str:
    """``docs/tables.md``: the intro, then one section per table."""
    lines = [
        INTRO,
        "Generated from `restock/publish/published_tables.yml` by `python -m restock.publish.catalog`:",
        "edit the YAML and regenerate, do not edit this file by hand.",
        "",
        "| table | grain | key |",
        "|---|---|---|",
    ]
    tables = catalog["tables"]
    for name, table in tables.items():
        lines.append(f"| [`{name}`](#{name}) | {_cell(table['grain'])} | {_cell(', '.join(table['key']))} |")
    for name, table in tables.items():
        lines += [
            "",
            f"## {name}",
            "",
            _flat(table["description"]),
            "",
            f"- Source: `{table['source']}` (warehouse); published as `{name}` and `{name}_latest`.",
            f"- Grain: {_cell(table['grain'])}.",
            f"- Key: {', '.join(f'`{c}`' for c in table['key'])}.",
            "",
            "| column | type | unit | meaning |",
            "|---|---|---|---|",
        ]
        for column, spec in table["columns"].items():
            lines.append(f"| `{column}` | {spec['type']} | {_cell(spec['unit'])} | {_cell(spec['description'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m restock.publish.catalog", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the docs file is out of date, write nothing")
    parser.add_argument("--catalog", type=Path, default=CATALOG_PATH, help=f"default {CATALOG_PATH}")
    parser.add_argument("--output", type=Path, default=DOCS_PATH, help=f"default {DOCS_PATH}")
    args = parser.parse_args(argv)
    text = render_markdown(load_catalog(args.catalog))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{args.output} is out of date: run python -m restock.publish.catalog", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
