"""The progress of `tempo-sync run`, drawn from the steps' progress messages: a bar redrawn on a
terminal, a few plain lines otherwise (tests/cli/test_run_output.py watches both in real runs)."""

from __future__ import annotations

import io
import logging

from assets.progress import progress_message
from pipelines.progress import ProgressBar


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("dagster", logging.INFO, __file__, 1, message, None, None)


def test_the_bar_redraws_one_line_per_step_and_ignores_other_messages():
    stream = io.StringIO()
    bar = ProgressBar(stream, redraw=True)
    bar.emit(_record("sync_worklogs - run - source_worklogs - page 1: 40 worklogs"))
    bar.emit(_record("sync_worklogs - run - source_worklogs - " + progress_message("extract", 40, None)))
    bar.emit(_record("sync_worklogs - run - destination_worklogs - " + progress_message("load", 10, 40)))
    bar.emit(_record("sync_worklogs - run - destination_worklogs - " + progress_message("load", 40, 40)))
    assert stream.getvalue() == (
        "\rextract      40\n"
        "\rload         [" + "#" * 8 + "." * 22 + "] 10/40"
        "\rload         [" + "#" * 30 + "] 40/40"
    )


def test_without_a_terminal_a_step_writes_its_first_and_its_last_count_on_lines_of_their_own():
    stream = io.StringIO()
    bar = ProgressBar(stream)  # a StringIO is no terminal
    bar.emit(_record("sync_worklogs - run - source_worklogs - " + progress_message("extract", 40, None)))
    bar.emit(_record("sync_worklogs - run - source_worklogs - " + progress_message("extract", 60, None)))
    bar.emit(_record("sync_worklogs - run - source_worklogs - " + progress_message("extract", 80, None)))
    bar.emit(_record("sync_worklogs - run - destination_worklogs - " + progress_message("load", 10, 40)))
    bar.emit(_record("sync_worklogs - run - destination_worklogs - " + progress_message("load", 20, 40)))
    bar.emit(_record("sync_worklogs - run - destination_worklogs - " + progress_message("load", 40, 40)))
    # 60 and 20/40 fall within the minute after the step's first line.
    assert stream.getvalue() == "extract      40\nextract      80\nload         10/40\nload         40/40\n"
