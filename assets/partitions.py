"""The daily partitions: one per work date (Tempo's ``startDate``, the worker's local date)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import dagster as dg

from resources.policy import Schedule
from resources.settings import DEFAULT_START_DATE


def _start_date() -> date:
    # A malformed value is reported by resources.settings, together with every other problem.
    try:
        return date.fromisoformat(os.environ.get("TEMPO_SYNC_START_DATE", "").strip())
    except ValueError:
        return DEFAULT_START_DATE


def _config_path() -> Path | None:
    raw = os.environ.get("TEMPO_SYNC_CONFIG", "").strip()
    return Path(raw) if raw else None


SCHEDULE = Schedule.from_file(_config_path())

# The work date is the worker's local date, which Tempo never shifts; the partitions' time zone
# only decides when a day counts as over (and so when the schedule runs it). Today is a partition
# too (end_offset=1), so the sensor can sync a worklog of today within minutes.
work_days = dg.DailyPartitionsDefinition(
    start_date=_start_date().isoformat(), timezone=SCHEDULE.timezone, end_offset=1
)
