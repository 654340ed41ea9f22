"""Progress lines for long loops (days of a backfill, forecast origins): units done of
the total, the rate and the estimated time left, at most every ``every_seconds``.

    progress = Progress("analytics.customer_segments", len(days), context.log.info)
    for day in days:
        ...
        progress.advance(through=day, detail=f"{rows:,} rows")

logs, after the first unit, then at most every 30 s, and after the last one:

    progress: analytics.customer_segments: 1/731 days (through 2023-01-01), 52 days/min, ~14 min left; 4,100 rows
    progress: analytics.customer_segments: 731/731 days (through 2024-12-31), 48 days/min, done in 15 min; ...

Every line starts with :data:`PREFIX`: ``python -m orchestration.cli backfill`` (and so
``make demo``) picks these lines out of the run's event log and prints them. The rate
is the average since the loop started (units done / time elapsed), the time left that
rate applied to the units left. Pure Python; the clock is injectable for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

PREFIX = "progress: "
EVERY_SECONDS = 30.0


def format_duration(seconds: float) -> str:
    """12 s, 4 min, 2 h 05 min (a rough figure: it is an estimate or a stage's wall time)."""
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def format_rate(per_minute: float) -> str:
    """1,200 / 48 / 3.5 / 0.25: enough digits to compare two stages, no more."""
    if per_minute >= 10:
        return f"{per_minute:,.0f}"
    if per_minute >= 1:
        return f"{per_minute:.1f}"
    return f"{per_minute:.2g}"


class Progress:
    """Counts units done of ``total`` and logs a progress line through ``log`` after the
    first unit, after the last one, and in between when ``every_seconds`` have passed
    since the previous line. ``clock`` returns seconds (monotonic); the loop's start is
    when the object is made. ``report_first=False``: no line for the first unit, for
    loops whose first unit carries a fixed start-up cost (dbt's) that would make its
    estimate meaningless; the first line then comes ``every_seconds`` after the start."""

    def __init__(
        self,
        label: str,
        total: int,
        log: Callable[[str], object],
        *,
        unit: str = "days",
        every_seconds: float = EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        report_first: bool = True,
    ) -> None:
        if total < 0:
            raise ValueError(f"progress of {label}: total must be >= 0, not {total}")
        self.label, self.total, self.unit = label, total, unit
        self._log, self._every, self._clock = log, every_seconds, clock
        self.started = clock()
        self.done = 0
        # clock at the previous line (None: the next unit gets one)
        self._last_line: float | None = None if report_first else self.started
        self._reported = -1  # units done at the previous line

    def advance(self, through: date | str | None = None, *, done: int | None = None, detail: str = "") -> None:
        """One more unit done (or ``done`` units in all, for loops that skip some);
        ``through``: the last unit done (a day or an origin), ``detail``: what the loop
        has produced so far (rows...), appended to the line."""
        self.done = min(self.total, self.done + 1 if done is None else done)
        now = self._clock()
        due = self._last_line is None or now - self._last_line >= self._every or self.done >= self.total
        if due and self.done != self._reported:
            self._write(now, through, detail)

    def finish(self, through: date | str | None = None, *, detail: str = "") -> None:
        """The loop is over: the last line (all units done) unless it was written."""
        self.done = self.total
        if self._reported != self.total:
            self._write(self._clock(), through, detail)

    def line(self, now: float, through: date | str | None = None, detail: str = "") -> str:
        elapsed = now - self.started
        text = f"{PREFIX}{self.label}: {self.done}/{self.total} {self.unit}"
        if through is not None:
            text += f" (through {through})"
        if elapsed > 0 and self.done > 0:
            per_minute = self.done / elapsed * 60
            text += f", {format_rate(per_minute)} {self.unit}/min"
            if self.done < self.total:
                text += f", ~{format_duration((self.total - self.done) / per_minute * 60)} left"
        if self.done >= self.total:
            text += f", done in {format_duration(max(elapsed, 0.0))}"
        return text + (f"; {detail}" if detail else "")

    def _write(self, now: float, through: date | str | None, detail: str) -> None:
        self._log(self.line(now, through, detail))
        self._last_line, self._reported = now, self.done


__all__ = ["EVERY_SECONDS", "PREFIX", "Progress", "format_duration", "format_rate"]
