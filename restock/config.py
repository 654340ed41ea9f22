"""restock.yaml as one typed, frozen model: every business rule a user may change.

One model per section, with its defaults, units and meaning; :func:`load_config`
reads and validates the file once. Unknown keys and wrong types fail at load with the
file, the key path and what was expected. Modules receive the typed sections
(``config.forecasting.horizon_weeks``), never the raw YAML.

This is the ground floor: it imports only :mod:`restock.contract` (the input
contract's names), so every other package may import it. Paths and switches that
come from the environment live in :mod:`restock.settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias, get_args

import yaml
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator

from restock.contract import EXTRACTS, FILE_SUFFIXES, day_of_file

# Scalars are strict: YAML already types them, so "8" where a number belongs is a
# mistake to report, not a value to coerce (ints are still accepted as floats).
Int = Annotated[int, Strict()]
PositiveInt = Annotated[int, Strict(), Field(ge=1)]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
# int | float keeps a YAML 2 an int (dbt gets "2", not "2.0"); both are numbers.
Number: TypeAlias = Annotated[int, Strict()] | Annotated[float, Strict()]
PositiveNumber: TypeAlias = Annotated[int, Strict(), Gt(0)] | Annotated[float, Strict(), Gt(0)]
NonNegativeNumber: TypeAlias = Annotated[int, Strict(), Ge(0)] | Annotated[float, Strict(), Ge(0)]
Share: TypeAlias = Annotated[int, Strict(), Gt(0), Lt(1)] | Annotated[float, Strict(), Gt(0), Lt(1)]  # in (0, 1)
ShareOrZero: TypeAlias = Annotated[int, Strict(), Ge(0), Lt(1)] | Annotated[float, Strict(), Ge(0), Lt(1)]  # [0, 1)
Fraction: TypeAlias = Annotated[int, Strict(), Ge(0), Le(1)] | Annotated[float, Strict(), Ge(0), Le(1)]  # [0, 1]
Text = Annotated[str, Strict(), Field(min_length=1)]
Flag = Annotated[bool, Strict()]

# The candidates of restock.forecasting.models (named here so that loading the config
# imports neither numpy nor pandas; a test keeps the two in step).
ModelName = Literal[
    "combination",
    "croston",
    "ets_damped",
    "moving_average",
    "sarimax_calendar",
    "sba",
    "seasonal_naive",
    "seasonal_naive_adjusted",
    "ses",
    "ses_fixed",
    "tsb",
    "zero",
]
MODEL_NAMES: tuple[str, ...] = get_args(ModelName)
ReplenishmentPolicy = Literal["periodic_review", "min_max", "continuous_review"]
AllocationRule = Literal["tier_weights", "proportional", "selected_fixed"]


class ConfigError(ValueError):
    pass


class Section(BaseModel):
    """A section of restock.yaml: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- extracts


class ExtractColumns(Section):
    # contract column -> header in the user's file; unmapped columns keep their name
    columns: dict[str, Text] = Field(default_factory=dict)


class InventoryExtract(ExtractColumns):
    # "sales_unit" (e.g. carton) or "case" (converted with products.units_per_case)
    quantity_unit: Literal["sales_unit", "case"] = "sales_unit"


class ExtractsConfig(Section):
    """How the landing files map onto the input contract (restock.contract)."""

    encodings: tuple[Text, ...] = ("utf-8-sig", "gb18030")  # tried in order
    customers: ExtractColumns = ExtractColumns()
    orders: ExtractColumns = ExtractColumns()
    products: ExtractColumns = ExtractColumns()
    inventory: InventoryExtract = InventoryExtract()
    promotions: ExtractColumns = ExtractColumns()

    @model_validator(mode="after")
    def _known_columns(self) -> ExtractsConfig:
        for name in EXTRACTS:
            unknown = set(self.extract(name).columns) - set(EXTRACTS[name].columns)
            if unknown:
                raise ValueError(
                    f"extracts.{name}.columns maps unknown contract columns {sorted(unknown)}; "
                    f"contract columns are {list(EXTRACTS[name].columns)}"
                )
        return self

    def extract(self, name: str) -> ExtractColumns:
        spec: ExtractColumns = getattr(self, name)
        return spec

    def column_mapping(self, name: str) -> dict[str, str]:
        """Contract column -> header in the user's file."""
        return dict(self.extract(name).columns)


# --------------------------------------------------------------------------- landing and raw gates


class LandingConfig(Section):
    """When a delivered file counts as complete (restock/ingest/deliveries.py)."""

    settle_seconds: PositiveInt = 120  # a file without a marker counts once unchanged this long
    marker_suffix: Text = ".done"  # marker written by the sender after the file

    @field_validator("marker_suffix")
    @classmethod
    def _marker_is_not_data(cls, suffix: str) -> str:
        if not suffix.strip() or "/" in suffix or "\\" in suffix:
            raise ValueError(f"must be a non-empty file name ending (e.g. .done), got {suffix!r}")
        if any(day_of_file(f"2000-01-01{data}{suffix}") is not None for data in FILE_SUFFIXES):
            raise ValueError(
                f"{suffix!r} would make marker names look like data files (ending in {', '.join(FILE_SUFFIXES)})"
            )
        return suffix


class PlausibilityConfig(Section):
    """Plausibility of a snapshot against the previous accepted one (restock/ingest/plausibility.py).

    A coverage limit of 0 switches that check off; so does a violation share of 1.
    """

    # products: share of the previous snapshot's SKUs (not delisted) still in the file;
    # inventory: share of the previous day's warehouse x SKU rows with stock still in the file
    min_sku_coverage: Fraction = 0.9
    min_warehouse_coverage: Fraction = 1.0  # inventory: warehouses with stock the previous day
    min_customer_coverage: Fraction = 0.9  # customers: previous snapshot's customers (not closed)
    # on hand = previous on hand - previous allocated (shipped) + receipts (0 .. previous in transit),
    # within this share of the previous on hand, but never less than stock_identity_min_units
    stock_identity_tolerance: Fraction = 0.05
    stock_identity_min_units: NonNegativeNumber = 1
    max_stock_identity_violation_share: Fraction = 0.2  # a larger share of rows off the identity blocks the day


class HistoryGapsConfig(Section):
    """What a day does when its lookback window holds an open quarantine or a daily
    file that never arrived (restock/ingest/history.py)."""

    action: Literal["block", "warn"] = "block"  # block: the day publishes nothing; warn: log and publish
    lookback_weeks: PositiveInt = 26  # the longest window a published table reads (segments, classes)


class QualityConfig(Section):
    """Business rules of the raw gates (expectations/raw_*.json)."""

    max_quantity: PositiveNumber = 100000  # an order line above this many sales units blocks the file
    outlier_k: PositiveNumber = 8  # a line above mean + k x std of its customer's earlier lines warns
    baseline_weeks: PositiveInt = 8  # weeks of accepted order lines the outlier baseline uses
    plausibility: PlausibilityConfig = PlausibilityConfig()  # snapshots against the previous accepted one
    history_gaps: HistoryGapsConfig = HistoryGapsConfig()  # earlier days a day's tables depend on


# --------------------------------------------------------------------------- tiers


def _ascending(values: tuple[float, ...], strictly: bool = False) -> tuple[float, ...]:
    steps = zip(values, values[1:], strict=False)
    if not values or any((b <= a) if strictly else (b < a) for a, b in steps):
        raise ValueError(f"must be a non-empty {'strictly ' if strictly else ''}ascending list, got {list(values)}")
    return values


class TiersConfig(Section):
    """Customer tiers (档位) derived where the CRM leaves them empty (dbt marts.customers)."""

    window_weeks: PositiveInt = 13  # trailing weeks behind the derived tier
    volume_band_edges: tuple[Number, ...] = (2, 4, 7, 11, 16, 23, 32, 45, 65)  # cartons a week
    price_band_edges: tuple[Number, ...] = (120, 250)  # average price per carton
    new_customer_max_tier: PositiveInt = 10  # cap for shops opened less than window_weeks ago

    _edges = field_validator("volume_band_edges", "price_band_edges")(_ascending)


# --------------------------------------------------------------------------- segments and classes


class LifecycleConfig(Section):
    """Lifecycle states, counted in missed order cycles (restock.segmentation.customers)."""

    cycle_days: PositiveInt = 7  # the fixed cycle; floor and fallback of the own interval
    new_max_cycles: PositiveInt = 4  # new during its first cycles
    at_risk_missed_cycles: PositiveInt = 2
    churned_missed_cycles: PositiveInt = 6
    # own_interval: cycles of the customer's usual interval (median gap between its
    # last rhythm_window_orders order days, >= cycle_days); fixed_cycle: cycle_days.
    rhythm: Literal["own_interval", "fixed_cycle"] = "own_interval"
    rhythm_window_orders: Annotated[int, Strict(), Field(ge=2)] = 9
    min_orders_for_rhythm: Annotated[int, Strict(), Field(ge=2)] = 3  # fewer order days: cycle_days

    @model_validator(mode="after")
    def _at_risk_before_churned(self) -> LifecycleConfig:
        if self.at_risk_missed_cycles > self.churned_missed_cycles:
            raise ValueError("needs at_risk_missed_cycles <= churned_missed_cycles")
        if self.min_orders_for_rhythm > self.rhythm_window_orders:
            raise ValueError("needs min_orders_for_rhythm <= rhythm_window_orders")
        return self


class SegmentationConfig(Section):
    """Customer segments (customer_segments)."""

    segment_by: tuple[Text, ...] = Field(default=("tier_band", "channel"), min_length=1)
    tier_bands: tuple[Int, ...] = (5, 10, 15, 20, 25)  # upper ends of the tier bands
    rfm_window_weeks: PositiveInt = 26
    rfm_bins: PositiveInt = 5  # scores 1..bins, bins = best
    lifecycle: LifecycleConfig = LifecycleConfig()

    @field_validator("tier_bands")
    @classmethod
    def _strictly_ascending(cls, bands: tuple[int, ...]) -> tuple[int, ...]:
        _ascending(tuple(float(b) for b in bands), strictly=True)
        return bands


def _two_increasing(cuts: tuple[float, ...]) -> tuple[float, ...]:
    if len(cuts) != 2 or not 0 < cuts[0] < cuts[1]:
        raise ValueError(f"must be two increasing positive numbers, got {list(cuts)}")
    return cuts


class ProductClassesConfig(Section):
    """ABC / XYZ and demand classes (product_classes)."""

    window_weeks: PositiveInt = 26  # complete weeks classified, ending on the day
    abc_cuts: tuple[Number, ...] = (0.8, 0.95)  # cumulative value share closing A, then B
    xyz_cuts: tuple[Number, ...] = (0.5, 1.0)  # coefficient of variation closing X, then Y
    adi_cut: PositiveNumber = 1.32  # Syntetos-Boylan-Croston: average demand interval
    cv2_cut: PositiveNumber = 0.49  # ... and squared CV of the non-zero demand sizes

    _cuts = field_validator("abc_cuts", "xyz_cuts")(_two_increasing)

    @field_validator("abc_cuts")
    @classmethod
    def _shares(cls, cuts: tuple[float, ...]) -> tuple[float, ...]:
        if cuts[1] > 1:
            raise ValueError("are cumulative shares: at most 1")
        return cuts


# --------------------------------------------------------------------------- forecasts and review


class PerDemandClass(Section):
    """One value per demand class (all four required)."""

    smooth: Any
    erratic: Any
    intermittent: Any
    lumpy: Any

    def as_dict(self) -> dict[str, Any]:
        return {"smooth": self.smooth, "erratic": self.erratic, "intermittent": self.intermittent, "lumpy": self.lumpy}


BacktestMetric = Literal["wape", "mae", "mase", "rmsse"]


class BacktestMetrics(PerDemandClass):
    smooth: BacktestMetric
    erratic: BacktestMetric
    intermittent: BacktestMetric
    lumpy: BacktestMetric


class BacktestOrigins(PerDemandClass):
    smooth: PositiveInt
    erratic: PositiveInt
    intermittent: PositiveInt
    lumpy: PositiveInt


class ForecastingConfig(Section):
    """Forecasts (demand_forecasts): cadence, horizon, candidates, selection."""

    quantity: Literal["requested_qty", "ordered_qty"] = "requested_qty"  # what is forecast
    cutoff_weekday: Annotated[int, Strict(), Field(ge=1, le=7)] = 7  # ISO weekday of the refresh (7 = Sunday)
    horizon_weeks: PositiveInt = 8
    interval_level: Share = 0.8  # lower/upper bounds: this central interval
    season_weeks: PositiveInt = 52
    min_history_weeks: PositiveInt = 12  # shorter series: mean of the weeks so far
    selection_every_weeks: PositiveInt = 26  # model selection on this calendar grid; refits weekly
    default_model: ModelName | None = "combination"  # kept for smooth/erratic unless clearly beaten
    switch_margin: ShareOrZero = 0.25  # "clearly": a score this much lower
    ses_alpha: Share = 0.15  # smoothing weight of the combination's SES (and of ses_fixed)
    backtest_metric: BacktestMetrics = BacktestMetrics(
        smooth="wape", erratic="wape", intermittent="rmsse", lumpy="rmsse"
    )
    backtest_origins: BacktestOrigins = BacktestOrigins(smooth=3, erratic=3, intermittent=8, lumpy=8)
    reselect_out_of_control: Flag = True  # a series whose tracking signal is out of control is selected again
    reconciliation: Literal["auto", "bottom_up", "top_down", "ols", "mint_wls"] = "auto"  # how levels add up
    reconciliation_window_weeks: PositiveInt = 13  # auto: backtest over the origins of these weeks
    interval_calibration: Flag = True  # segment x SKU intervals scaled per horizon to their recent coverage
    interval_calibration_weeks: PositiveInt = 13  # weeks of past errors the calibration uses
    promotions: Literal["discount", "days", "off"] = "discount"  # promotions regressor (forecasting/promotions.py)
    promo_min_weeks: PositiveInt = 2  # promotion weeks a series' history needs before it gets the regressor
    share_window_weeks: PositiveInt = 13  # customer share of its segment, for customer x SKU
    workers: PositiveInt = 2  # processes fitting series in parallel

    @field_validator("default_model", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class AccuracyConfig(Section):
    """Forecast accuracy review (forecast_accuracy)."""

    window_weeks: PositiveInt = 13  # weeks reviewed, ending with the last complete week
    tracking_signal_limit: PositiveNumber = 4  # |cumulative error / MAD| above this: out of control


# --------------------------------------------------------------------------- replenishment

# A per-customer quantity: null, a number, or {tier: number}
TierQuantity = NonNegativeNumber | dict[Int, NonNegativeNumber] | None


class AllocationConfig(Section):
    """Rationing of short supply (货源投放), per warehouse x SKU."""

    rule: AllocationRule = "tier_weights"
    rules_by_sku: dict[Text, AllocationRule] = Field(default_factory=dict)  # sku -> rule, overrides `rule`
    tier_weights: dict[Int, NonNegativeNumber] | None = Field(default=None, min_length=1)  # null: the tier number
    cap_qty: TierQuantity = None  # per-customer cap
    min_qty: TierQuantity = None  # per-customer minimum
    fixed_qty: NonNegativeNumber | None = None  # selected_fixed: quantity per selected customer
    available_includes_in_transit: Flag = True  # available = on hand (+ in transit) - allocated

    @field_validator("cap_qty", "min_qty", mode="before")
    @classmethod
    def _tier_quantity(cls, value: Any) -> Any:
        def number(x: Any) -> bool:
            return isinstance(x, int | float) and not isinstance(x, bool) and x >= 0

        def tier(x: Any) -> bool:
            return isinstance(x, int) and not isinstance(x, bool)

        if value is None or number(value):
            return value
        if isinstance(value, Mapping) and all(tier(k) and number(v) for k, v in value.items()):
            return value
        raise ValueError(f"must be a number >= 0, {{tier: number >= 0}} or null, got {value!r}")


class AlertsConfig(Section):
    """Thresholds of inventory_alerts."""

    overstock_days: NonNegativeNumber = 60  # days of supply above this: overstock
    expiry_warning_days: NonNegativeNumber = 30  # oldest batch expiring within this many days
    dead_stock_weeks: NonNegativeNumber = 8  # no demand this many weeks with stock on hand
    min_daily_demand: NonNegativeNumber = 0.1  # below this (sales units a day): no stockout alerts


class ReplenishmentConfig(Section):
    """Replenishment plan, customer suggestions and alerts."""

    region_warehouse: dict[Text, Text] = Field(default_factory=dict)  # customer region -> warehouse
    default_warehouse: Text | None = None  # regions not listed; null leaves them out
    policy: ReplenishmentPolicy = "periodic_review"
    review_period_days: NonNegativeNumber = 7  # R
    service_levels: dict[Text, Share] = Field(default_factory=lambda: {"A": 0.98, "B": 0.95, "C": 0.90})
    unclassified_service_level: Share = 0.90  # SKU without an ABC class on the day
    ordering_cost: NonNegativeNumber = 200  # K per purchase order (EOQ)
    holding_cost_rate: NonNegativeNumber = 0.20  # h as a share of unit cost a year
    min_error_weeks: NonNegativeInt = 4  # fewer weeks of past errors: std from the forecast interval
    order_inactive_products: Flag = False  # delisted / not launched SKUs get purchase orders
    suggestion_rounding: Literal["nearest", "up", "down"] = "nearest"
    allocation: AllocationConfig = AllocationConfig()
    alerts: AlertsConfig = AlertsConfig()

    def warehouse_of(self, region: object) -> str | None:
        """The warehouse serving a customer of ``region`` (decision 1); None: none does."""
        if isinstance(region, str) and region in self.region_warehouse:
            return self.region_warehouse[region]
        return self.default_warehouse


# --------------------------------------------------------------------------- performance


class KpisConfig(Section):
    """Performance KPIs (kpis) and the replay of the plan (replenishment_replay)."""

    windows_weeks: tuple[PositiveInt, ...] = Field(default=(1, 13), min_length=1)  # trailing windows
    replay_weeks: PositiveInt = 13  # weeks replayed as if the plan's orders had been placed


# --------------------------------------------------------------------------- publishing


class PublishingConfig(Section):
    """Retention and the published-table gates."""

    retain_days: PositiveInt = 28  # days served, ending with the newest published day
    max_row_drop_share: Fraction = 0.5  # bigger drop blocks
    max_quantity: PositiveNumber = 1e9  # any published quantity above this is an error (and inf)


# --------------------------------------------------------------------------- long runs


class BackfillConfig(Section):
    """Long runs: the daily tables built in Python (customer_segments, the accuracy
    reviews and the replenishment tables) built in worker processes
    (restock/day_workers.py)."""

    workers: PositiveInt = 2  # processes building the days of a run of two blocks or more; 1: none
    block_days: PositiveInt = 14  # days a worker builds at once and holds in memory until written


# --------------------------------------------------------------------------- daily report


class ReportConfig(Section):
    """The daily HTML report written beside the published tables (restock/publish/daily_report.py)."""

    language: Literal["zh", "en"] = "en"  # language of the report's labels: zh (Chinese) | en (English)


# --------------------------------------------------------------------------- alerting

# The variable named by alerting.webhook_url_env when the file leaves it out.
DEFAULT_WEBHOOK_URL_VARIABLE = "RESTOCK_ALERT_WEBHOOK_URL"


class AlertingConfig(Section):
    """Where failed runs, blocked days and stale published tables are reported (restock/alerts.py).

    Every alert is appended to RESTOCK_DATA_DIR/alerts/alerts.jsonl; it is also POSTed to
    the webhook when the variable named by ``webhook_url_env`` is set, and piped (as JSON on
    stdin) to ``command`` when one is given.
    """

    published_max_age_hours: PositiveNumber = 30  # a published table not updated for longer is stale
    # name of the environment variable holding the webhook URL (a secret: never in this file)
    webhook_url_env: Text = DEFAULT_WEBHOOK_URL_VARIABLE
    command: tuple[Text, ...] | None = Field(default=None, min_length=1)  # argv, or one string split like a shell
    timeout_seconds: PositiveNumber = 10  # per webhook POST / command

    @field_validator("webhook_url_env")
    @classmethod
    def _variable_name(cls, name: str) -> str:
        if not (name.isascii() and name.replace("_", "").isalnum()) or name[0].isdigit():
            raise ValueError(
                f"must be an environment variable name (e.g. {DEFAULT_WEBHOOK_URL_VARIABLE}), got {name!r}"
            )
        return name

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: Any) -> Any:
        if isinstance(value, str):
            import shlex

            try:
                return tuple(shlex.split(value)) or None
            except ValueError as exc:
                raise ValueError(f"cannot be split into arguments ({exc}): {value!r}") from None
        return value


# --------------------------------------------------------------------------- the file


class RestockConfig(Section):
    """The whole of restock.yaml."""

    extracts: ExtractsConfig = ExtractsConfig()
    landing: LandingConfig = LandingConfig()
    quality: QualityConfig = QualityConfig()
    tiers: TiersConfig = TiersConfig()
    segmentation: SegmentationConfig = SegmentationConfig()
    product_classes: ProductClassesConfig = ProductClassesConfig()
    forecasting: ForecastingConfig = ForecastingConfig()
    accuracy: AccuracyConfig = AccuracyConfig()
    replenishment: ReplenishmentConfig = ReplenishmentConfig()
    kpis: KpisConfig = KpisConfig()
    publishing: PublishingConfig = PublishingConfig()
    backfill: BackfillConfig = BackfillConfig()
    report: ReportConfig = ReportConfig()
    alerting: AlertingConfig = AlertingConfig()

    def override(self, changes: Mapping[str, Any]) -> RestockConfig:
        """A validated copy with ``{"forecasting.horizon_weeks": 12, ...}`` applied."""
        data = self.model_dump()
        for dotted, value in changes.items():
            *parents, leaf = dotted.split(".")
            node = data
            for part in parents:
                node = node[part]
            node[leaf] = value
        return parse_config(data, "override")

    def dbt_vars(self) -> dict[str, Any]:
        """The business rules the dbt models need, passed with --vars (besides the window)."""
        return {
            "tier_window_weeks": self.tiers.window_weeks,
            "tier_volume_band_edges": list(self.tiers.volume_band_edges),
            "tier_price_band_edges": list(self.tiers.price_band_edges),
            "new_customer_max_tier": self.tiers.new_customer_max_tier,
            "inventory_quantity_unit": self.extracts.inventory.quantity_unit,
        }


# Sections that moved out of the file, with where they went.
MOVED_SECTIONS = {
    "schedule": "the schedule is deployment, not a business rule: set RESTOCK_TIMEZONE and "
    "RESTOCK_DAILY_RUN_AT (HH:MM) in the environment (README, 'Pointing it at your own extracts')",
}


def load_config(path: Path) -> RestockConfig:
    """Read and validate restock.yaml; ConfigError names the file and the key path."""
    if not path.exists():
        raise ConfigError(f"config file not found: {path} (set RESTOCK_CONFIG or restore restock.yaml)")
    try:
        with path.open(encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(raw, path)


def parse_config(raw: Any, source: Path | str = "restock.yaml") -> RestockConfig:
    """Validate an already-read mapping (tests, programmatic overrides)."""
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: must be a mapping of sections, got {type(raw).__name__}")
    for section, where in MOVED_SECTIONS.items():
        if section in raw:
            raise ConfigError(f"{source}: {section}: this section is no longer read; {where}")
    try:
        return RestockConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + "; ".join(_problems(exc.errors()))) from None


def _problems(errors: list[Any]) -> list[str]:
    """One message per key: a number is int | float, and pydantic reports each branch."""
    by_key: dict[str, list[Any]] = {}
    for error in errors:
        key = ".".join(str(p) for p in error["loc"] if not _is_union_branch(p))
        by_key.setdefault(key, []).append(error)
    messages: list[str] = []
    for found in by_key.values():
        if len(found) > 1:
            found = [e for e in found if not str(e["type"]).startswith("int_")] or found
        messages.extend(_describe(e) for e in found)
    return list(dict.fromkeys(messages))


def _describe(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"] if not _is_union_branch(part))
    kind, message = error["type"], str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
        if message.startswith(f"{location}."):  # a section's own check names its keys
            return message
    if message.startswith("Input should be "):
        message = "must be " + message[len("Input should be ") :]
    if kind == "extra_forbidden":
        parent = location.rsplit(".", 1)[0] if "." in location else ""
        return f"{location} is not a known key" + (f" of {parent}" if parent else " (a section)")
    if kind == "missing":
        return f"{location} is missing"
    shown = f"{location} " if location else ""
    got = error.get("input")
    if kind.endswith("_type") or kind.startswith(("greater", "less", "literal", "too_")):
        return f"{shown}{message}, got {got!r}"
    return f"{shown}{message}"


def _is_union_branch(part: Any) -> bool:
    # pydantic names the branch of a union it tried ("float", "dict[int,float]"): noise for a user.
    if not isinstance(part, str):
        return False
    return part in {"float", "int", "str", "bool", "none"} or "[" in part or part.startswith(UNION_BRANCH_PREFIXES)


UNION_BRANCH_PREFIXES = ("constrained-", "function-", "lax-or-strict", "json-or-python")
