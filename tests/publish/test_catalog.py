"""The published-table catalogue: in step with the code's DDL and with docs/tables.md."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from restock.forecasting import daily as forecasting_daily
from restock.publish.catalog import CATALOG_PATH, DOCS_PATH, load_catalog, main, render_markdown
from restock.replenishment import daily as replenishment_daily
from restock.segmentation import daily as segmentation_daily
from restock.warehouse import connect

# design.md, "Output contract: the published tables".
PUBLISHED = (
    "customer_segments", "product_classes", "demand_forecasts", "forecast_accuracy",
    "replenishment_plan", "customer_order_suggestions", "inventory_alerts",
)
CATALOG = load_catalog()


@pytest.fixture(scope="module")
def relations(tmp_path_factory) -> dict[str, list[tuple[str, str]]]:
    """(column, type) of every source relation, created by the project's own DDL."""
    con = connect(tmp_path_factory.mktemp("catalog") / "warehouse.duckdb")
    try:
        segmentation_daily.ensure_tables(con)
        forecasting_daily.ensure_tables(con)
        replenishment_daily.ensure_tables(con)
        return {
            name: [(row[0], row[1]) for row in con.execute(f"describe {table['source']}").fetchall()]
            for name, table in CATALOG["tables"].items()
        }
    finally:
        con.close()


def differences(name: str, documented: dict, actual: list[tuple[str, str]]) -> list[str]:
    """Every way the catalogue's columns differ from the relation's, one message each."""
    problems = []
    doc_names, real_names = list(documented), [column for column, _ in actual]
    for column, typ in actual:
        if column not in documented:
            problems.append(f"{name}: column {column!r} ({typ}) is in the DDL but not documented in published_tables.yml")
        elif documented[column]["type"].upper() != typ.upper():
            problems.append(f"{name}: column {column!r} is {typ} in the DDL but {documented[column]['type']} in the catalogue")
    for column in doc_names:
        if column not in real_names:
            problems.append(f"{name}: column {column!r} is documented but not in the DDL")
    if not problems and doc_names != real_names:
        problems.append(f"{name}: column order differs: DDL {real_names}, catalogue {doc_names}")
    return problems


def test_catalogue_lists_the_published_tables():
    assert list(CATALOG["tables"]) == list(PUBLISHED)


@pytest.mark.parametrize("name", PUBLISHED)
def test_columns_match_the_ddl(name, relations):
    problems = differences(name, CATALOG["tables"][name]["columns"], relations[name])
    assert not problems, "\n".join(problems)
    assert relations[name][0][0] == "as_of_date"


def test_an_undocumented_column_is_named(relations):
    table = CATALOG["tables"]["replenishment_plan"]["columns"]
    added = relations["replenishment_plan"] + [("new_metric", "DOUBLE")]
    assert differences("replenishment_plan", table, added) == [
        "replenishment_plan: column 'new_metric' (DOUBLE) is in the DDL but not documented in published_tables.yml"
    ]
    retyped = [(c, "VARCHAR" if c == "tier" else t) for c, t in relations["customer_segments"]]
    assert differences("customer_segments", CATALOG["tables"]["customer_segments"]["columns"], retyped) == [
        "customer_segments: column 'tier' is VARCHAR in the DDL but INTEGER in the catalogue"
    ]
    swapped = relations["inventory_alerts"][:]
    swapped[1], swapped[2] = swapped[2], swapped[1]
    assert "column order differs" in differences("inventory_alerts", CATALOG["tables"]["inventory_alerts"]["columns"], swapped)[0]


def test_docs_are_generated_from_the_catalogue():
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


def write(tmp_path: Path, catalog: dict) -> Path:
    path = tmp_path / "catalog.yml"
    path.write_text(yaml.safe_dump(catalog, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def raw() -> dict:
    return yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))


def test_the_raw_file_round_trips(tmp_path):
    assert load_catalog(write(tmp_path, raw())) == CATALOG


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["tables"]["product_classes"]["columns"]["cv"].pop("unit"),
         r"table 'product_classes', column 'cv': needs exactly the fields"),
        (lambda c: c["tables"]["product_classes"]["columns"]["cv"].update(unit="percent"),
         r"table 'product_classes', column 'cv': unit 'percent' is not one of"),
        (lambda c: c["tables"]["inventory_alerts"]["columns"]["detail"].update(description=" "),
         r"table 'inventory_alerts', column 'detail': 'type' and 'description' must be non-empty"),
        (lambda c: c["tables"]["inventory_alerts"]["columns"].update(severity="high"),
         r"table 'inventory_alerts', column 'severity': needs exactly the fields"),
        (lambda c: c["tables"]["replenishment_plan"].update(key=["as_of_date", "warehouse", "sku"]),
         r"table 'replenishment_plan': key column\(s\) \['warehouse'\] are not in its columns"),
        (lambda c: c["tables"]["replenishment_plan"].update(key=["warehouse_id", "sku"]),
         r"table 'replenishment_plan': key must include as_of_date"),
        (lambda c: c["tables"]["demand_forecasts"].pop("grain"),
         r"table 'demand_forecasts': needs exactly the fields"),
        (lambda c: c["tables"]["demand_forecasts"].update(source="demand_forecasts"),
         r"table 'demand_forecasts': source must be <schema>.<relation>"),
        (lambda c: c.pop("tables"), r"non-empty 'tables' mapping"),
    ],
)
def test_a_malformed_entry_is_named(tmp_path, edit, message):
    catalog = raw()
    edit(catalog)
    with pytest.raises(ValueError, match=message):
        load_catalog(write(tmp_path, catalog))


def test_a_repeated_column_is_an_error(tmp_path):
    path = tmp_path / "catalog.yml"
    text = CATALOG_PATH.read_text(encoding="utf-8")
    entry = "      detail:\n        type: VARCHAR\n"
    assert text.count(entry) == 1
    path.write_text(text.replace(entry, "      on_hand_qty:\n        type: VARCHAR\n"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"duplicate key 'on_hand_qty' at line \d+"):
        load_catalog(path)
