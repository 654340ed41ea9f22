"""Delivering alerts (restock/alerts.py) to real targets: the alerts file, a real HTTP
server on 127.0.0.1, a real command; a target that fails is logged, never raised."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from restock.alerts import Alert, deliver, read_alerts, staleness
from restock.config import AlertingConfig, ConfigError, parse_config

ALERT = Alert(
    "day_blocked",
    "raw/orders orders_contract",
    "orders/2024-01-09.csv row 17: quantity='-3' is below 0",
    partition="2024-01-09",
    run_id="abc123",
    ui_link="http://127.0.0.1:3000/runs/abc123",
)
NO_WEBHOOK = {}  # an environment without the webhook variable


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook():
    """A real HTTP server on 127.0.0.1 in a thread: (URL, list of received requests, handler class)."""

    class Handler(_Recorder):
        received = []

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/T0KEN-secret?sig=xyz", Handler.received, Handler
    finally:
        server.shutdown()
        server.server_close()


def test_the_file_target_appends_one_json_line_per_alert(tmp_path):
    first = deliver(ALERT, AlertingConfig(), tmp_path, env=NO_WEBHOOK)
    stale = Alert("stale_table", "published/customer_segments", "last published 31.0 h ago")
    deliver(stale, AlertingConfig(), tmp_path, env=NO_WEBHOOK)

    assert [o.ok for o in first] == [True] and str(tmp_path / "alerts" / "alerts.jsonl") in first[0].target
    lines = (tmp_path / "alerts" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    recorded = json.loads(lines[0])
    assert recorded == {
        "kind": "day_blocked",
        "subject": "raw/orders orders_contract",
        "reason": ALERT.reason,
        "partition": "2024-01-09",
        "run_id": "abc123",
        "ui_link": "http://127.0.0.1:3000/runs/abc123",
        "time": ALERT.time,
    }
    assert [a["kind"] for a in read_alerts(tmp_path)] == ["day_blocked", "stale_table"]


def test_the_webhook_target_posts_the_alert_as_json_to_a_real_server(tmp_path, webhook):
    url, received, _ = webhook
    config = AlertingConfig(webhook_url_env="MY_HOOK")
    outcomes = deliver(ALERT, config, tmp_path, env={"MY_HOOK": url})

    assert [o.ok for o in outcomes] == [True, True], outcomes
    (path, headers, body) = received[0]
    assert len(received) == 1 and path == "/hooks/T0KEN-secret?sig=xyz"
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == ALERT.to_dict()
    # The URL's token is never shown: only scheme, host and port.
    assert "T0KEN" not in str(outcomes[1]) and str(outcomes[1]).startswith("webhook http://127.0.0.1:")
    assert len(read_alerts(tmp_path)) == 1, "the file records the alert too"


def test_a_webhook_answering_an_error_is_reported_not_raised(tmp_path, webhook, caplog):
    url, received, handler = webhook
    handler.status = 500
    with caplog.at_level(logging.WARNING, logger="restock.alerts"):
        outcomes = deliver(ALERT, AlertingConfig(), tmp_path, env={"RESTOCK_ALERT_WEBHOOK_URL": url})
    assert len(received) == 1
    assert not outcomes[1].ok and "HTTP 500" in outcomes[1].detail
    assert "HTTP 500" in caplog.text and "T0KEN" not in caplog.text
    assert read_alerts(tmp_path)[0]["kind"] == "day_blocked"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_webhook_logs_and_does_not_raise(tmp_path, caplog):
    url = f"http://127.0.0.1:{_closed_port()}/hooks/T0KEN"
    config = AlertingConfig(timeout_seconds=2)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="restock.alerts"):
        outcomes = deliver(ALERT, config, tmp_path, env={"RESTOCK_ALERT_WEBHOOK_URL": url})
    assert time.monotonic() - started < 10
    assert outcomes[0].ok and not outcomes[1].ok and "unreachable" in outcomes[1].detail
    assert "not delivered" in caplog.text and "day_blocked: raw/orders orders_contract [2024-01-09]" in caplog.text
    assert "T0KEN" not in caplog.text
    assert len(read_alerts(tmp_path)) == 1


def test_a_webhook_that_does_not_answer_times_out(tmp_path):
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
        started = time.monotonic()
        outcomes = deliver(ALERT, AlertingConfig(timeout_seconds=1), tmp_path, env={"RESTOCK_ALERT_WEBHOOK_URL": url})
        elapsed = time.monotonic() - started
    assert not outcomes[1].ok and elapsed < 5, (outcomes, elapsed)


def test_the_command_target_gets_the_alert_json_on_stdin(tmp_path):
    out = tmp_path / "received.json"
    script = f"import sys, pathlib; pathlib.Path({str(out)!r}).write_bytes(sys.stdin.buffer.read())"
    config = AlertingConfig(command=(sys.executable, "-c", script))
    outcomes = deliver(ALERT, config, tmp_path / "data", env=NO_WEBHOOK)
    assert [o.ok for o in outcomes] == [True, True], outcomes
    assert json.loads(out.read_text(encoding="utf-8")) == ALERT.to_dict()


def test_a_failing_or_hanging_command_is_reported_not_raised(tmp_path):
    failing = AlertingConfig(command=(sys.executable, "-c", "import sys; sys.exit('no route to the pager')"))
    outcomes = deliver(ALERT, failing, tmp_path, env=NO_WEBHOOK)
    assert not outcomes[1].ok and "exit status 1: no route to the pager" in outcomes[1].detail

    hanging = AlertingConfig(command=(sys.executable, "-c", "import time; time.sleep(30)"), timeout_seconds=1)
    started = time.monotonic()
    outcomes = deliver(ALERT, hanging, tmp_path, env=NO_WEBHOOK)
    assert not outcomes[1].ok and "did not finish within 1 s" in outcomes[1].detail
    assert time.monotonic() - started < 10

    missing = AlertingConfig(command=(str(tmp_path / "no-such-notifier"),))
    outcomes = deliver(ALERT, missing, tmp_path, env=NO_WEBHOOK)
    assert not outcomes[1].ok and "could not start" in outcomes[1].detail
    assert len(read_alerts(tmp_path)) == 3, "the file got every alert"


def test_an_unwritable_alerts_folder_is_reported_not_raised(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be", encoding="utf-8")
    (outcome,) = deliver(ALERT, AlertingConfig(), blocker, env=NO_WEBHOOK)
    assert not outcome.ok and "alerts" in outcome.target


def test_alerting_section_of_restock_yaml():
    config = parse_config({"alerting": {"command": "notify-ops --channel 'restock ops'", "published_max_age_hours": 6}})
    assert config.alerting.command == ("notify-ops", "--channel", "restock ops")
    assert config.alerting.published_max_age_hours == 6
    for bad, message in [
        ({"webhook_url_env": "https://hooks.example/T0KEN"}, "environment variable name"),
        ({"published_max_age_hours": 0}, "published_max_age_hours must be greater than 0"),
        ({"command": []}, "alerting.command"),
        ({"target": "slack"}, "alerting.target is not a known key"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_config({"alerting": bad})


def test_staleness_and_alert_records():
    now = 1_700_000_000.0
    assert staleness(now - 29 * 3600, now, 30) is None
    assert staleness(None, now, 30) == "never published"
    reason = staleness(now - 31 * 3600, now, 30)
    assert reason is not None and "31.0 h ago" in reason and "30 h allowed" in reason
    with pytest.raises(ValueError, match="alert kind must be one of"):
        Alert("oops", "x", "y")  # type: ignore[arg-type]
    long = Alert("run_failed", "restock_daily", "x" * 10_000)
    assert len(long.reason) <= 4000 and long.reason.endswith("(cut; the full text is in the UI)")


def test_the_default_webhook_variable_is_read_from_the_environment_only(tmp_path, webhook, monkeypatch):
    url, received, _ = webhook
    monkeypatch.setenv("RESTOCK_ALERT_WEBHOOK_URL", url)
    outcomes = deliver(ALERT, AlertingConfig(), Path(tmp_path))
    assert [o.ok for o in outcomes] == [True, True] and len(received) == 1


def test_a_malformed_webhook_url_is_reported_without_its_token(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="restock.alerts"):
        outcomes = deliver(
            ALERT, AlertingConfig(), tmp_path, env={"RESTOCK_ALERT_WEBHOOK_URL": "http://127.0.0.1:T0KEN/hook"}
        )
    assert not outcomes[1].ok and "T0KEN" not in str(outcomes[1]) and "T0KEN" not in caplog.text
