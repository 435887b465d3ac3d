"""The daily schedule: each day, the work date that just ended, as a safety net under the sensor.

The partitions reach today (the sensor syncs today's worklogs within minutes), so the schedule
names yesterday itself rather than taking the newest partition.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from assets.partitions import SCHEDULE
from pipelines.jobs import sync_worklogs


@dg.schedule(
    name=f"{sync_worklogs.name}_schedule",
    job=sync_worklogs,
    cron_schedule=f"{SCHEDULE.minute} {SCHEDULE.hour} * * *",
    execution_timezone=SCHEDULE.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Sync yesterday's worklogs every day, at the hour the policy file's [schedule] sets.",
)
def daily_sync(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    today = context.scheduled_execution_time.astimezone(ZoneInfo(SCHEDULE.timezone)).date()
    return dg.RunRequest(partition_key=(today - timedelta(days=1)).isoformat())
