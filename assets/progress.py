"""The steps' progress messages: one format, written by the assets and read by the progress bar."""

from __future__ import annotations

import re
from typing import NamedTuple

_PROGRESS = re.compile(r"progress: (?P<step>\S+) (?P<done>\d+)/(?P<total>\d+|\?)")


class Progress(NamedTuple):
    step: str
    done: int
    total: int | None


def progress_message(step: str, done: int, total: int | None) -> str:
    return f"progress: {step} {done}/{total if total is not None else '?'}"


def parse_progress(message: str) -> Progress | None:
    """The progress a log message reports, or None when it is not a progress message."""
    match = _PROGRESS.search(message)
    if match is None:
        return None
    total = None if match["total"] == "?" else int(match["total"])
    return Progress(match["step"], int(match["done"]), total)
