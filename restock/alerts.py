"""Alerts for the people who run the pipeline: a failed run, a blocked day, a stale table.

An :class:`Alert` is one JSON object (kind, subject, reason, partition, run_id,
ui_link, time). :func:`deliver` sends it to the targets of restock.yaml's
``alerting`` section (:class:`restock.config.AlertingConfig`):

- always appended as one line to ``RESTOCK_DATA_DIR/alerts/alerts.jsonl``;
- POSTed as JSON to the webhook whose URL is in the environment variable named by
  ``webhook_url_env``, when that variable is set;
- given on standard input to ``command`` (no shell), when one is set.

Delivery never raises: a target that fails or times out is logged and reported in
the returned outcomes, so an alert about a failure never hides the failure itself.
The webhook URL (it often carries a token) never appears in a log or an outcome;
only its scheme and host do.

Plain Python: the Dagster sensors that build alerts live in orchestration/alerting.py.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from restock.config import AlertingConfig
from restock.settings import secret_from_env

log = logging.getLogger(__name__)

AlertKind = Literal["run_failed", "day_blocked", "stale_table"]
ALERT_KINDS: tuple[str, ...] = ("run_failed", "day_blocked", "stale_table")
ALERTS_FILE = Path("alerts") / "alerts.jsonl"  # under RESTOCK_DATA_DIR
MAX_REASON_CHARS = 4000  # a webhook message stays readable; the UI link has the rest
MAX_DETAIL_CHARS = 500  # of a failing command's output, in the log


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Alert:
    """One alert. ``kind``: run_failed (a run failed: the failing step and its error),
    day_blocked (a blocking gate stopped the day: the check and its message),
    stale_table (a published table older than alerting.published_max_age_hours)."""

    kind: AlertKind
    subject: str  # the job, the check(s) ("raw/orders orders_contract") or the table(s)
    reason: str  # what happened, in words, with the file/row/column when the check names them
    partition: str | None = None  # the day, or "first..last" for a range run / the last published day
    run_id: str | None = None
    ui_link: str | None = None  # the run, or the asset, in the Dagster UI
    time: str = field(default_factory=_now)  # when the alert was raised (UTC, ISO 8601)

    def __post_init__(self) -> None:
        if self.kind not in ALERT_KINDS:
            raise ValueError(f"alert kind must be one of {', '.join(ALERT_KINDS)}, got {self.kind!r}")
        if len(self.reason) > MAX_REASON_CHARS:
            cut = self.reason[: MAX_REASON_CHARS - 40].rstrip()
            object.__setattr__(self, "reason", f"{cut}\n... (cut; the full text is in the UI)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    def summary(self) -> str:
        """One line for a log: kind, subject, partition."""
        where = f" [{self.partition}]" if self.partition else ""
        return f"{self.kind}: {self.subject}{where}"


@dataclass(frozen=True)
class Delivery:
    """What happened to one alert at one target."""

    target: str  # "file <path>", "webhook <scheme://host>", "command <argv[0]>"
    ok: bool
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.target}: {'sent' if self.ok else 'FAILED'}{f' ({self.detail})' if self.detail else ''}"


def alerts_path(data_dir: Path) -> Path:
    return data_dir / ALERTS_FILE


def deliver(
    alert: Alert, config: AlertingConfig, data_dir: Path, env: Mapping[str, str] | None = None
) -> list[Delivery]:
    """Send ``alert`` to every configured target; never raises. ``env``: where the webhook
    URL's variable is looked up (default: the environment)."""
    outcomes = [write_to_file(alert, alerts_path(data_dir))]
    url = secret_from_env(config.webhook_url_env, env)
    if url:
        outcomes.append(post_to_webhook(alert, url, config.timeout_seconds))
    if config.command:
        outcomes.append(run_command(alert, config.command, config.timeout_seconds))
    for outcome in outcomes:
        if not outcome.ok:
            log.warning("alert %s not delivered to %s", alert.summary(), outcome)
    return outcomes


def write_to_file(alert: Alert, path: Path) -> Delivery:
    """Append the alert as one JSON line (one write of the whole line, so concurrent
    writers never interleave within a line)."""
    target = f"file {path}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        line = (alert.to_json() + "\n").encode("utf-8")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        return Delivery(target, False, f"{type(exc).__name__}: {exc}")
    return Delivery(target, True)


def read_alerts(data_dir: Path) -> list[dict[str, Any]]:
    """The alerts recorded under ``data_dir``, oldest first (for tests and a person's look)."""
    path = alerts_path(data_dir)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _redacted(url: str) -> str:
    """scheme://host[:port] only: paths and queries of webhook URLs carry tokens."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<malformed URL>"
    return f"{parts.scheme or '?'}://{host}{port}"


def post_to_webhook(alert: Alert, url: str, timeout_seconds: float) -> Delivery:
    """POST the alert as JSON; a 2xx answer counts as delivered."""
    target = f"webhook {_redacted(url)}"
    if urlsplit(url).scheme not in ("http", "https"):
        return Delivery(target, False, "the URL must start with http:// or https://")
    request = urllib.request.Request(
        url,
        data=alert.to_json().encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "restock-alerts"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return Delivery(target, False, f"HTTP {exc.code} {exc.reason}")
    except urllib.error.URLError as exc:
        return Delivery(target, False, f"unreachable: {exc.reason}")
    except (TimeoutError, OSError) as exc:
        return Delivery(target, False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    except Exception as exc:  # e.g. http.client.InvalidURL: its text would show the URL's token
        return Delivery(target, False, f"malformed URL or answer ({type(exc).__name__})")
    if not 200 <= status < 300:
        return Delivery(target, False, f"HTTP {status}")
    return Delivery(target, True, f"HTTP {status}")


def run_command(alert: Alert, argv: tuple[str, ...] | list[str], timeout_seconds: float) -> Delivery:
    """Run ``argv`` (no shell) with the alert's JSON on standard input; exit 0 counts as delivered."""
    target = f"command {argv[0]}"
    try:
        done = subprocess.run(
            list(argv),
            input=alert.to_json().encode("utf-8"),
            capture_output=True,
            timeout=timeout_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Delivery(target, False, f"did not finish within {timeout_seconds} s (killed)")
    except (OSError, ValueError) as exc:  # not found, not executable, a NUL byte in an argument
        return Delivery(target, False, f"could not start: {exc}")
    if done.returncode != 0:
        output = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-MAX_DETAIL_CHARS:]
        return Delivery(target, False, f"exit status {done.returncode}" + (f": {output}" if output else ""))
    return Delivery(target, True)


def staleness(last_update: float | None, now: float, max_age_hours: float) -> str | None:
    """Why a table updated at ``last_update`` (epoch seconds, None: never) is stale at
    ``now``, or None when it is fresh."""
    if last_update is None:
        return "never published"
    age_hours = (now - last_update) / 3600
    if age_hours <= max_age_hours:
        return None
    when = datetime.fromtimestamp(last_update, UTC).isoformat(timespec="minutes")
    return f"last published {age_hours:.1f} h ago ({when}), more than the {max_age_hours:g} h allowed"
