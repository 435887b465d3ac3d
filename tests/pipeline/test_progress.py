"""The terminal progress bar of `tempo-sync run`, drawn from the steps' progress messages."""

from __future__ import annotations

import io
import logging

from assets.progress import progress_message
from pipelines.progress import ProgressBar


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("dagster", logging.INFO, __file__, 1, message, None, None)


def test_the_bar_redraws_one_line_per_step_and_ignores_other_messages():
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.emit(_record("sync_worklogs - run - source_worklogs - page 1: 40 worklogs"))
    bar.emit(_record("sync_worklogs - run - source_worklogs - " + progress_message("extract", 40, None)))
    bar.emit(_record("sync_worklogs - run - destination_worklogs - " + progress_message("load", 10, 40)))
    bar.emit(_record("sync_worklogs - run - destination_worklogs - " + progress_message("load", 40, 40)))
    assert stream.getvalue() == (
        "\rextract      40\n"
        "\rload         [" + "#" * 8 + "." * 22 + "] 10/40"
        "\rload         [" + "#" * 30 + "] 40/40"
    )
