"""The pure functions' keyword defaults are restock.yaml's defaults (restock.config).

They are duplicated only so that policy, allocation and alerts can be used and
unit-tested on their own; the daily run always passes the configured values.
"""

from __future__ import annotations

from restock.config import ReplenishmentConfig
from restock.replenishment import alerts, allocation, policy


def test_pure_defaults_match_the_config_defaults():
    rules = ReplenishmentConfig()
    assert (rules.policy, rules.review_period_days) == (policy.DEFAULT_POLICY, policy.DEFAULT_REVIEW_PERIOD_DAYS)
    assert dict(policy.DEFAULT_SERVICE_LEVELS) == rules.service_levels
    assert rules.unclassified_service_level == policy.DEFAULT_UNCLASSIFIED_SERVICE_LEVEL
    assert (rules.ordering_cost, rules.holding_cost_rate) == (
        policy.DEFAULT_ORDERING_COST,
        policy.DEFAULT_HOLDING_COST_RATE,
    )
    assert rules.suggestion_rounding == allocation.DEFAULT_SUGGESTION_ROUNDING
    assert rules.allocation.rule == allocation.DEFAULT_RULE
    assert rules.allocation.tier_weights is None  # meaning allocation.DEFAULT_TIER_WEIGHTS
    assert rules.allocation.cap_qty is None and rules.allocation.min_qty is None
    assert (
        rules.alerts.overstock_days,
        rules.alerts.expiry_warning_days,
        rules.alerts.dead_stock_weeks,
        rules.alerts.min_daily_demand,
    ) == (
        alerts.DEFAULT_OVERSTOCK_DAYS,
        alerts.DEFAULT_EXPIRY_WARNING_DAYS,
        alerts.DEFAULT_DEAD_STOCK_WEEKS,
        alerts.DEFAULT_MIN_DAILY_DEMAND,
    )
