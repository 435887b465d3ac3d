"""A progress bar on the terminal for ``tempo-sync run``, drawn from the steps' progress messages.

Steps log ``progress: STEP DONE/TOTAL`` through ``context.log``; Dagster hands every message to
the run's loggers, and this one redraws a single line on stderr for those messages only.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import dagster as dg

from assets.progress import parse_progress

_WIDTH = 30


class ProgressBar(logging.Handler):
    """Redraws one line: the step, a bar when the total is known, and the counts."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.INFO)
        self.stream = stream
        self._step: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        progress = parse_progress(record.getMessage())
        if progress is None:
            return
        step, done, total = progress
        if self._step is not None and step != self._step:
            self.stream.write("\n")
        self._step = step
        if total is None:
            line = f"{step:<12} {done}"
        else:
            share = done / total if total else 1.0
            filled = round(share * _WIDTH)
            line = f"{step:<12} [{'#' * filled}{'.' * (_WIDTH - filled)}] {done}/{total}"
        self.stream.write(f"\r{line}")
        self.stream.flush()


@dg.logger(description="Draws the steps' progress as a bar on the terminal (used by `tempo-sync run`).")
def progress_bar(_init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("tempo-sync.progress", logging.INFO)
    logger.addHandler(ProgressBar(sys.stderr))
    return logger
