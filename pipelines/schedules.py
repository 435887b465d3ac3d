"""The daily schedule: each day, the work date that just ended (late worklogs: see sensors)."""

from __future__ import annotations

import dagster as dg

from assets.partitions import SCHEDULE
from pipelines.jobs import sync_worklogs

daily_sync = dg.build_schedule_from_partitioned_job(
    sync_worklogs,
    hour_of_day=SCHEDULE.hour,
    minute_of_hour=SCHEDULE.minute,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Sync yesterday's worklogs every day, at the hour the policy file's [schedule] sets.",
)
