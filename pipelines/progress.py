"""The steps' progress for ``tempo-sync run``: a bar on a terminal, a few plain lines otherwise.

Steps log ``progress: STEP DONE/TOTAL`` through ``context.log``; Dagster hands every message to
the run's loggers, and this one writes only those messages to stderr. On a terminal it redraws one
line per step. Piped to a file or run by cron, redrawing would leave every state on its own line,
so it writes a step's first count, at most one line a minute while the step runs, and its last
count when it ends.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

import dagster as dg

from assets.progress import Progress, parse_progress

_WIDTH = 30
PLAIN_INTERVAL_SECONDS = 60.0
# Dagster's log handler puts each message's run, step and event on its record under this name.
_DAGSTER_META = "dagster_meta"
_STEP_ENDS = {dg.DagsterEventType.STEP_SUCCESS.value, dg.DagsterEventType.STEP_FAILURE.value}


class ProgressBar(logging.Handler):
    """One line per step: the step, a bar when the total is known (on a terminal), the counts.

    ``redraw`` says whether to redraw the line in place (default: when ``stream`` is a terminal);
    plain lines come at most every ``interval`` seconds while a step runs, and when it ends.
    """

    def __init__(
        self, stream: TextIO, *, redraw: bool | None = None, interval: float = PLAIN_INTERVAL_SECONDS
    ) -> None:
        super().__init__(logging.DEBUG)
        self.stream = stream
        self.redraw = stream.isatty() if redraw is None else redraw
        self.interval = interval
        self._step_key: str | None = None  # the Dagster step whose progress is on the line
        self._progress: Progress | None = None  # the last progress it reported
        self._written: Progress | None = None  # what a plain line last said
        self._written_at = -interval  # a step's first count is written at once

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, _DAGSTER_META, None) or {}
        progress = parse_progress(record.getMessage())
        if progress is None:
            event = meta.get("dagster_event")
            ends = event is not None and event.event_type_value in _STEP_ENDS
            if ends and event.step_key == self._step_key:
                self._end_line()
            return
        if self._progress is not None and progress.step != self._progress.step:
            self._end_line()
        self._step_key, self._progress = meta.get("step_key"), progress
        if self.redraw:
            self.stream.write(f"\r{_line(progress, bar=True)}")
            self.stream.flush()
        elif progress.done == progress.total or time.monotonic() - self._written_at >= self.interval:
            self._write_plain()

    def _end_line(self) -> None:
        """The step on the line is over: end its bar, or write its last count."""
        if self.redraw and self._progress is not None:
            self.stream.write("\n")
            self.stream.flush()
        elif not self.redraw:
            self._write_plain()
        self._step_key = self._progress = self._written = None
        self._written_at = -self.interval

    def _write_plain(self) -> None:
        if self._progress is None or self._progress == self._written:
            return
        self.stream.write(_line(self._progress, bar=False) + "\n")
        self.stream.flush()
        self._written, self._written_at = self._progress, time.monotonic()


def _line(progress: Progress, *, bar: bool) -> str:
    step, done, total = progress
    if total is None:
        return f"{step:<12} {done}"
    if not bar:
        return f"{step:<12} {done}/{total}"
    share = done / total if total else 1.0
    filled = round(share * _WIDTH)
    return f"{step:<12} [{'#' * filled}{'.' * (_WIDTH - filled)}] {done}/{total}"


@dg.logger(description="Draws the steps' progress on stderr (used by `tempo-sync run`).")
def progress_bar(_init_context: dg.InitLoggerContext) -> logging.Logger:
    # DEBUG: Dagster logs a step's end as a debug event, and that ends the step's line.
    logger = logging.Logger("tempo-sync.progress", logging.DEBUG)
    logger.addHandler(ProgressBar(sys.stderr))
    return logger
