"""A pair's daily partitions: one per work date (Tempo's ``startDate``, the worker's local date)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from resources.policy import Schedule


def work_days(start_date: date, schedule: Schedule) -> dg.DailyPartitionsDefinition:
    """The work dates from ``start_date`` to today.

    The work date is the worker's local date, which Tempo never shifts; the partitions' time zone
    (the policy's ``[schedule] timezone``) only decides when a day counts as over, and so when the
    schedule runs it. Today is a partition too (``end_offset=1``), so the sensor can sync a worklog
    of today within minutes.
    """
    return dg.DailyPartitionsDefinition(
        start_date=start_date.isoformat(), timezone=schedule.timezone, end_offset=1
    )
