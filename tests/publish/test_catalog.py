"""The warehouse registry (restock/warehouse_tables.yml): the tables created from it
are what it says, the published views match it, docs/tables.md is generated from it
and a bad entry is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from restock import table_registry
from restock.forecasting import tables as forecasting_tables
from restock.performance import kpis, replay_table
from restock.publish.catalog import DOCS_PATH, REGISTRY_PATH, load_catalog, main, render_markdown
from restock.replenishment import alerts, policy
from restock.replenishment import tables as replenishment_tables
from restock.replenishment.assemble import ALERT_COLUMNS, PLAN_COLUMNS, SUGGESTION_COLUMNS
from restock.segmentation import tables as segmentation_tables
from restock.warehouse import connect

# design.md, "Output contract: the published tables".
PUBLISHED = (
    "customer_segments",
    "product_classes",
    "demand_forecasts",
    "forecast_accuracy",
    "replenishment_plan",
    "customer_order_suggestions",
    "inventory_alerts",
    "kpis",
    "replenishment_replay",
)
# Every table the code creates in schema analytics.
TABLES = (
    "customer_segments",
    "product_classes",
    "segment_forecasts",
    "level_forecasts",
    "reconciliations",
    "customer_forecast_shares",
    "forecast_members",
    "model_choices",
    "forecast_runs",
    "accuracy_reviews",
    "replenishment_plan",
    "customer_order_suggestions",
    "inventory_alerts",
    "kpis",
    "replenishment_replay",
)
REGISTRY = table_registry.registry()["tables"]
CATALOG = load_catalog()


def described(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str, bool]]:
    """(column, type, nullable) of ``relation`` as DuckDB describes it."""
    return [(row[0], row[1], row[2] == "YES") for row in con.execute(f"describe {relation}").fetchall()]


def registered(name: str) -> list[tuple[str, str, bool]]:
    """(column, type, nullable) of ``name`` as the registry says."""
    return [(c, spec["type"], spec.get("nullable", True)) for c, spec in REGISTRY[name]["columns"].items()]


def test_the_registry_lists_every_table_and_the_published_ones():
    assert [n for n, t in REGISTRY.items() if t["kind"] == "table"] == list(TABLES)
    assert [n for n, t in REGISTRY.items() if t["published"]] == list(PUBLISHED)
    assert list(CATALOG["tables"]) == list(PUBLISHED)


@pytest.mark.parametrize("name", TABLES)
def test_a_table_created_from_the_registry_is_what_it_says(name):
    con = duckdb.connect()
    try:
        table_registry.ensure_tables(con, [name])
        assert described(con, REGISTRY[name]["relation"]) == registered(name)
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Iterator[duckdb.DuckDBPyConnection]:
    """A new warehouse with every table and view the code creates."""
    con = connect(tmp_path_factory.mktemp("catalog") / "warehouse.duckdb")
    segmentation_tables.ensure_tables(con)
    forecasting_tables.ensure_tables(con)
    replenishment_tables.ensure_tables(con)
    kpis.ensure_table(con)
    replay_table.ensure_table(con)
    yield con
    con.close()


def test_the_code_creates_the_registry_tables_and_no_other(warehouse):
    tables = warehouse.execute(
        "select table_name from information_schema.tables where table_schema = 'analytics' and table_type = 'BASE TABLE'"
    ).fetchall()
    assert sorted(t[0] for t in tables) == sorted(TABLES)
    for name in TABLES:
        assert described(warehouse, REGISTRY[name]["relation"]) == registered(name)


@pytest.mark.parametrize("name", [n for n in PUBLISHED if REGISTRY[n]["kind"] == "view"])
def test_a_published_view_has_the_registry_columns(name, warehouse):
    # names, order and types (a view enforces no nullability)
    actual = [(c, t) for c, t, _ in described(warehouse, REGISTRY[name]["relation"])]
    assert actual == [(c, t) for c, t, _ in registered(name)]


def test_the_column_lists_come_from_the_registry():
    lists = {
        "customer_segments": segmentation_tables.SEGMENT_COLUMNS,
        "product_classes": segmentation_tables.PRODUCT_COLUMNS,
        "segment_forecasts": forecasting_tables.FORECAST_COLUMNS,
        "model_choices": forecasting_tables.CHOICE_COLUMNS,
        "replenishment_plan": PLAN_COLUMNS,
        "customer_order_suggestions": SUGGESTION_COLUMNS,
        "inventory_alerts": ALERT_COLUMNS,
        **replenishment_tables.TABLES,
    }
    for name, listed in lists.items():
        assert listed == table_registry.columns(name), name
    # the pure functions' outputs are in the tables, in the same order
    assert lists["inventory_alerts"] == ["as_of_date", *alerts.ALERT_COLUMNS]
    assert lists["replenishment_plan"][: len(policy.PLAN_COLUMNS) + 1] == ["as_of_date", *policy.PLAN_COLUMNS]


def test_create_table_sql():
    assert table_registry.create_table_sql("forecast_runs") == (
        "create table if not exists analytics.forecast_runs (\n"
        '    "as_of_date" DATE not null,\n    "forecast_origin" DATE not null\n)'
    )
    with pytest.raises(ValueError, match="'demand_forecasts' is a view"):
        table_registry.create_table_sql("demand_forecasts")
    with pytest.raises(KeyError, match="'no_such_table' is not in warehouse_tables.yml"):
        table_registry.columns("no_such_table")


def test_ensure_tables_leaves_an_existing_table_alone():
    con = duckdb.connect()
    try:
        table_registry.ensure_tables(con, ["forecast_runs"])
        con.execute("insert into analytics.forecast_runs values (date '2024-01-08', date '2024-01-07')")
        table_registry.ensure_tables(con, ["forecast_runs"])
        assert con.execute("select count(*) from analytics.forecast_runs").fetchone() == (1,)
    finally:
        con.close()


# --------------------------------------------------------------------------- docs


def test_docs_are_generated_from_the_registry():
    assert DOCS_PATH.read_text(encoding="utf-8") == render_markdown(load_catalog()), (
        "docs/tables.md is out of date: run python -m restock.publish.catalog"
    )


def test_markdown_has_a_section_and_a_row_per_column():
    text = render_markdown(CATALOG)
    for name, table in CATALOG["tables"].items():
        assert f"\n## {name}\n" in text
        for column in table["columns"]:
            assert f"\n| `{column}` |" in text
    assert "T06-10\\|便利店" in text  # a | inside a cell is escaped
    assert "python -m restock.publish.catalog" in text
    assert "segment_forecasts" not in text.split("\n## ")[0]  # internal tables are not listed


def test_main_writes_and_checks(tmp_path, capsys):
    out = tmp_path / "tables.md"
    assert main(["--check", "--output", str(out)]) == 1  # missing
    assert main(["--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_markdown(CATALOG)
    assert main(["--check", "--output", str(out)]) == 0
    out.write_text(out.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    assert main(["--check", "--output", str(out)]) == 1
    assert "out of date" in capsys.readouterr().err


# --------------------------------------------------------------------------- malformed


def write(tmp_path: Path, registry: dict) -> Path:
    path = tmp_path / "registry.yml"
    path.write_text(yaml.safe_dump(registry, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def raw() -> dict:
    return yaml.safe_load(REGISTRY_PATH.read_text(encoding="utf-8"))


def test_the_raw_file_round_trips(tmp_path):
    assert table_registry.load(write(tmp_path, raw()))["tables"] == REGISTRY
    assert load_catalog(write(tmp_path, raw())) == CATALOG


def column(registry: dict, table: str, name: str) -> dict:
    return registry["tables"][table]["columns"][name]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: column(c, "product_classes", "cv").pop("unit"),
            r"table 'product_classes', column 'cv': needs the fields type, unit, description",
        ),
        (
            lambda c: column(c, "segment_forecasts", "naive_mae").pop("type"),
            r"table 'segment_forecasts', column 'naive_mae': needs the fields type, unit, description",
        ),
        (
            lambda c: column(c, "product_classes", "cv").update(unit="percent"),
            r"table 'product_classes', column 'cv': unit 'percent' is not one of",
        ),
        (
            lambda c: column(c, "model_choices", "model").update(type="varchar"),
            r"table 'model_choices', column 'model': type 'varchar' is not one of",
        ),
        (
            lambda c: column(c, "forecast_runs", "as_of_date").update(nullable="no"),
            r"table 'forecast_runs', column 'as_of_date': nullable must be true or false",
        ),
        (
            lambda c: column(c, "demand_forecasts", "sku").update(nullable=False),
            r"table 'demand_forecasts', column 'sku': nullable is for tables only",
        ),
        (
            lambda c: column(c, "inventory_alerts", "detail").update(description=" "),
            r"table 'inventory_alerts', column 'detail': 'description' must be a non-empty string",
        ),
        (
            lambda c: column(c, "inventory_alerts", "detail").update(width=3),
            r"table 'inventory_alerts', column 'detail': needs the fields",
        ),
        (
            lambda c: c["tables"]["inventory_alerts"]["columns"].update(severity="high"),
            r"table 'inventory_alerts', column 'severity': needs the fields",
        ),
        (
            lambda c: c["tables"]["inventory_alerts"]["columns"].update(
                {"Detail 2": column(c, "inventory_alerts", "detail")}
            ),
            r"table 'inventory_alerts', column 'Detail 2': the name must be a lower-case SQL identifier",
        ),
        (
            lambda c: c["tables"]["replenishment_plan"].update(key=["as_of_date", "warehouse", "sku"]),
            r"table 'replenishment_plan': key column\(s\) \['warehouse'\] are not in its columns",
        ),
        (
            lambda c: c["tables"]["replenishment_plan"].update(key=["warehouse_id", "sku"]),
            r"table 'replenishment_plan': key must include as_of_date",
        ),
        (
            lambda c: c["tables"]["model_choices"].update(key=["selection_origin", "sku", "demand_class"]),
            r"table 'model_choices': key column\(s\) \['demand_class'\] must be nullable: false",
        ),
        (lambda c: c["tables"]["demand_forecasts"].pop("grain"), r"table 'demand_forecasts': needs exactly the fields"),
        (
            lambda c: c["tables"]["demand_forecasts"].update(relation="demand_forecasts"),
            r"table 'demand_forecasts': relation must be <schema>.demand_forecasts",
        ),
        (
            lambda c: c["tables"]["forecast_runs"].update(relation="analytics.runs"),
            r"table 'forecast_runs': relation must be <schema>.forecast_runs",
        ),
        (
            lambda c: c["tables"]["forecast_runs"].update(kind="materialized"),
            r"table 'forecast_runs': kind must be one of \['table', 'view'\]",
        ),
        (
            lambda c: c["tables"]["forecast_runs"].update(published="yes"),
            r"table 'forecast_runs': published must be true or false",
        ),
        (
            lambda c: c["tables"]["forecast_runs"].update(
                published=True,
                columns={
                    "forecast_origin": column(c, "forecast_runs", "forecast_origin"),
                    "as_of_date": column(c, "forecast_runs", "as_of_date"),
                },
            ),
            r"table 'forecast_runs': the first column must be as_of_date",
        ),
        (lambda c: c.pop("tables"), r"registry: expected a mapping with the one key 'tables'"),
        (lambda c: c.update(tables={}), r"registry: 'tables' must be a non-empty mapping"),
    ],
)
def test_a_malformed_entry_is_named(tmp_path, edit, message):
    registry = raw()
    edit(registry)
    path = write(tmp_path, registry)
    with pytest.raises(ValueError, match=message):
        table_registry.load(path)
    with pytest.raises(ValueError, match=message):
        load_catalog(path)


def test_a_repeated_column_is_an_error(tmp_path):
    path = tmp_path / "registry.yml"
    text = REGISTRY_PATH.read_text(encoding="utf-8")
    entry = "      detail:\n        type: VARCHAR\n"
    assert text.count(entry) == 1
    path.write_text(text.replace(entry, "      on_hand_qty:\n        type: VARCHAR\n"), encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"table 'inventory_alerts', column 'on_hand_qty': duplicate key 'on_hand_qty' at line \d+"
    ):
        table_registry.load(path)


def test_a_repeated_table_or_field_is_an_error(tmp_path):
    path = tmp_path / "registry.yml"
    text = REGISTRY_PATH.read_text(encoding="utf-8")
    path.write_text(
        text + text[text.index("  forecast_runs:\n") : text.index("  accuracy_reviews:\n")], encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"table 'forecast_runs': duplicate key 'forecast_runs' at line \d+"):
        table_registry.load(path)
    entry = "        description: Forecast origin.\n"
    assert text.count(entry) == 1
    path.write_text(text.replace(entry, entry * 2), encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"table 'forecast_members', column 'forecast_origin': duplicate key 'description' at line \d+"
    ):
        table_registry.load(path)


# --------------------------------------------------------------------------- amounts


@pytest.mark.parametrize("type_", ["DECIMAL(0,0)", "DECIMAL(39,2)", "DECIMAL(4,5)", "decimal(18,2)", "DECIMAL(18, 2)"])
def test_a_malformed_decimal_type_is_refused(tmp_path, type_):
    registry = raw()
    column(registry, "customer_segments", "monetary").update(type=type_)
    with pytest.raises(ValueError, match=r"column 'monetary': type .* is not one of .* or DECIMAL\(p,s\)"):
        table_registry.load(write(tmp_path, registry))


def test_amounts_are_decimal_and_a_double_amount_of_an_older_warehouse_is_converted():
    """Amounts are DECIMAL(18,2) (exact sums, issue 12 point 11); a warehouse whose table
    was created with DOUBLE amounts gets them converted, rounded to the cent."""
    assert table_registry.decimal_scale("customer_segments", "monetary") == 2
    assert table_registry.decimal_scale("product_classes", "total_value") == 2
    with pytest.raises(ValueError, match="product_classes.value_share is DOUBLE, not DECIMAL"):
        table_registry.decimal_scale("product_classes", "value_share")
    con = duckdb.connect()
    try:
        con.execute("create schema analytics")
        con.execute(table_registry.create_table_sql("product_classes").replace("DECIMAL(18,2)", "DOUBLE"))
        con.execute(
            """insert into analytics.product_classes (as_of_date, sku, total_value, value_share, demand_class)
               values ('2024-01-21', 'K1', 220756.19999999998, 1.0, 'smooth')"""
        )
        table_registry.ensure_tables(con, ["product_classes"])
        assert described(con, "analytics.product_classes") == registered("product_classes")
        assert con.execute("select total_value::varchar, value_share from analytics.product_classes").fetchall() == [
            ("220756.20", 1.0)
        ]
        table_registry.ensure_tables(con, ["product_classes"])  # nothing left to convert
        assert con.execute("select count(*) from analytics.product_classes").fetchone() == (1,)
    finally:
        con.close()
