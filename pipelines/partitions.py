"""The daily partitions: one per work date (Tempo's ``startDate``, the worker's local date)."""

from __future__ import annotations

import os
from datetime import date

import dagster as dg

from pipelines.settings import DEFAULT_START_DATE


def _start_date() -> date:
    # A malformed value is reported by pipelines.settings, together with every other problem.
    try:
        return date.fromisoformat(os.environ.get("TEMPO_SYNC_START_DATE", "").strip())
    except ValueError:
        return DEFAULT_START_DATE


work_days = dg.DailyPartitionsDefinition(start_date=_start_date().isoformat())
