"""The instance's event log on PostgreSQL (dagster_home/dagster.postgres.yaml):
Dagster's PostgresEventLogStorage, recording a run's state before the event that
announces it, as the SQLite storage does (orchestration/event_log.py,
RunStateBeforeEvent): otherwise the daemon's auto-retry can read a run's failure
before the run is failed, and never retry it.

A module of its own: only a PostgreSQL instance imports dagster-postgres.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

from orchestration.event_log import RunStateBeforeEvent


class RunStateFirstPostgresEventLogStorage(RunStateBeforeEvent, PostgresEventLogStorage):
    """PostgresEventLogStorage that records a run's state before its events."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> RunStateFirstPostgresEventLogStorage:
        # Dagster's own from_config_value builds a PostgresEventLogStorage by name.
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
