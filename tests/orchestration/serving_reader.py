"""Reader process for the pipeline publishing test (run as a script).

    python serving_reader.py DATA_DIR EXPECTED_JSON STOP_FILE RESULT_JSON

Like a BI tool: opens RESTOCK_DATA_DIR/serving.duckdb read-only, counts the rows per
as_of_date of every published table (and of its _latest view), closes, repeats until
STOP_FILE exists. EXPECTED_JSON holds {table: {day: rows}}: a day seen with another
count is a partial or mixed day. Writes {reads, errors, partial, days_seen}.
"""

import json
import os
import sys
import traceback

import duckdb


def main() -> int:
    data_dir, expected_path, stop_file, result_path = sys.argv[1:5]
    with open(expected_path) as fh:
        expected = json.load(fh)
    serving = os.path.join(data_dir, "serving.duckdb")
    reads, errors, partial, seen = 0, [], [], set()
    open(stop_file + ".ready", "w").close()
    while not os.path.exists(stop_file):
        for table, days in expected.items():
            for view in (table, f"{table}_latest"):
                try:
                    con = duckdb.connect(serving, read_only=True)
                    try:
                        rows = con.execute(f"select as_of_date::varchar, count(*) from {view} group by 1").fetchall()
                    finally:
                        con.close()
                except Exception:  # noqa: BLE001 - every failure is the finding
                    errors.append(traceback.format_exc(limit=1))
                    continue
                reads += 1
                if view.endswith("_latest") and len(rows) > 1:  # one day (none when that day is empty)
                    partial.append(f"{view}: {len(rows)} days")
                for day, count in rows:
                    seen.add(f"{table} {day}")
                    if days.get(day) != count:
                        partial.append(f"{view} {day}: {count} rows, expected {days.get(day)}")
    with open(result_path, "w") as fh:
        json.dump(
            {
                "reads": reads,
                "errors": errors[:20],
                "error_count": len(errors),
                "partial": partial[:20],
                "partial_count": len(partial),
                "days_seen": sorted(seen),
            },
            fh,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
