"""``restock-demo-data`` / ``python -m restock.demo``: write the demo landing folder.

Examples::

    restock-demo-data                                  # demo scale into $RESTOCK_LANDING_DIR
    restock-demo-data --scale tiny --out /tmp/landing  # 60 customers x 15 SKUs, 140 days
    restock-demo-data --scale city --out /tmp/city     # 20,000 customers x 300 SKUs
    restock-demo-data --customers 500 --days 90 --start 2025-01-01 --seed 7
    restock-demo-data --rhythms 1,2,4,8 --lapse-rate 0.25 --trend -0.1   # irregular buyers, lapses, a trend
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from restock.demo.generator import GENERATOR_VERSION, SCALES, DemoConfig, generate, read_manifest


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return value


def _weeks(text: str) -> tuple[int, ...]:
    try:
        weeks = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of whole weeks, e.g. 1,2,4,8"
        ) from None
    return weeks


def _same_set_present(out: Path, config: DemoConfig) -> bool:
    try:
        meta = read_manifest(out)
    except (OSError, ValueError):
        return False
    return meta.get("version") == GENERATOR_VERSION and meta.get("config") == config.manifest_config()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restock-demo-data",
        description="Generate the demo distributor's landing folder (orders, customers, "
        "products, inventory, promotions), one file per extract per business day.",
    )
    parser.add_argument(
        "--scale",
        choices=list(SCALES),
        default="demo",
        help="size preset: tiny (tests), demo (default), city (benchmarks)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="landing folder (default: $RESTOCK_LANDING_DIR, else data/landing)"
    )
    parser.add_argument("--customers", type=_positive, help="number of customers (overrides the preset)")
    parser.add_argument("--skus", type=_positive, help="number of SKUs (overrides the preset)")
    parser.add_argument("--days", type=_positive, help="number of days (overrides the preset)")
    parser.add_argument("--start", type=_date, help="first day, YYYY-MM-DD (default 2024-01-01)")
    parser.add_argument("--seed", type=int, help="random seed (default 42); same seed, same bytes")
    variants = parser.add_argument_group(
        "variants",
        "irregular buyers, lapsing shops and a trend, to exercise the lifecycle and the forecasts; the demo and "
        "city presets have irregular buyers and lapses (--rhythms 1,1,1,1,2,2,4,8 --lapse-rate 0.1), tiny has neither",
    )
    variants.add_argument(
        "--rhythms",
        type=_weeks,
        help="weeks between a customer's orders, drawn evenly per customer, e.g. 1,2,4,8 (1 = all weekly)",
    )
    variants.add_argument(
        "--lapse-rate",
        type=float,
        help="share of customers that stop ordering once a year for 6-30 weeks (e.g. 0.25; 0 = none)",
    )
    variants.add_argument("--open-rate", type=float, help="new shops per customer and year (default 0.06)")
    variants.add_argument("--trend", type=float, help="market growth a year on every SKU, e.g. -0.1 (default 0)")
    parser.add_argument(
        "--slow-lot-weeks",
        type=float,
        help="weeks of demand above the reorder point a supplier lot may add; slow SKUs whose case lot "
        "would add more are bought in cartons (default 4)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace landing files this generator did not write")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="keep an earlier generated set with the same parameters instead of rewriting it",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = DemoConfig.for_scale(
            args.scale,
            n_customers=args.customers,
            n_skus=args.skus,
            days=args.days,
            start=args.start,
            seed=args.seed,
            rhythm_weeks=args.rhythms,
            lapse_rate=args.lapse_rate,
            open_rate=args.open_rate,
            trend=args.trend,
            slow_lot_weeks=args.slow_lot_weeks,
        )
    except ValueError as exc:
        print(f"restock-demo-data: {exc}", file=sys.stderr)
        return 2
    out = args.out
    if out is None:
        from restock.settings import load_settings

        out = load_settings().landing_dir

    print(
        f"restock-demo-data: scale={config.scale} customers={config.n_customers} skus={config.n_skus} "
        f"{config.start}..{config.end} ({config.days} days) seed={config.seed} -> {out}",
        file=sys.stderr,
    )

    if args.if_missing and _same_set_present(out, config):
        print(f"restock-demo-data: {out} already holds this demo set (same parameters); keeping it", file=sys.stderr)
        return 0

    def progress(t: int, day: date, stats: dict) -> None:
        print(
            f"  {day}  day {t + 1:>4}/{config.days}  orders {stats['orders']:>9,}  "
            f"lines {stats['order_lines']:>11,}  {stats['elapsed_s']:>7.1f}s",
            file=sys.stderr,
        )

    try:
        result = generate(config, out, progress=None if args.quiet else progress, overwrite=args.overwrite)
    except FileExistsError as exc:
        print(f"restock-demo-data: {exc}", file=sys.stderr)
        return 1
    c = result.counts
    files = ", ".join(f"{name} {n}" for name, n in result.files.items())
    print(
        f"wrote {sum(result.files.values()):,} files to {result.out_dir} ({files}) in {result.elapsed_s:.1f}s\n"
        f"  {c['customers']:,} customers, {c['skus']:,} SKUs, {len(result.warehouses)} warehouses, "
        f"{c['promotions']:,} promotions\n"
        f"  {c['orders']:,} orders ({c['cancelled_orders']:,} cancelled), {c['order_lines']:,} order lines, "
        f"{c['short_lines']:,} allocated below request; fill rate "
        f"{c['supplied_qty'] / max(c['requested_qty'], 1):.1%}\n"
        f"  {c['written_off_qty']:,} cartons written off near expiry ({c['write_offs']:,} warehouse x SKU days)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
