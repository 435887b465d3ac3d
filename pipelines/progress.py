"""A progress bar on the terminal for ``tempo-sync run``, drawn from the steps' progress messages.

Steps log ``progress: STEP DONE/TOTAL`` through ``context.log``; Dagster hands every message to
the run's loggers, and this one redraws a single line on stderr for those messages only.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

import dagster as dg

_PROGRESS = re.compile(r"progress: (?P<step>\S+) (?P<done>\d+)/(?P<total>\d+|\?)")
_WIDTH = 30


def progress_message(step: str, done: int, total: int | None) -> str:
    return f"progress: {step} {done}/{total if total is not None else '?'}"


class ProgressBar(logging.Handler):
    """Redraws one line: the step, a bar when the total is known, and the counts."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.INFO)
        self.stream = stream
        self._step: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        match = _PROGRESS.search(record.getMessage())
        if match is None:
            return
        step, done, total = match["step"], int(match["done"]), match["total"]
        if self._step is not None and step != self._step:
            self.stream.write("\n")
        self._step = step
        if total == "?":
            line = f"{step:<12} {done}"
        else:
            share = done / int(total) if int(total) else 1.0
            filled = round(share * _WIDTH)
            line = f"{step:<12} [{'#' * filled}{'.' * (_WIDTH - filled)}] {done}/{total}"
        self.stream.write(f"\r{line}")
        self.stream.flush()


@dg.logger(description="Draws the steps' progress as a bar on the terminal (used by `tempo-sync run`).")
def progress_bar(_init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("tempo-sync.progress", logging.INFO)
    logger.addHandler(ProgressBar(sys.stderr))
    return logger
