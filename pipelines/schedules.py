"""A pair's daily schedule: each day, the work date that just ended, as a safety net under the sensor.

The partitions reach today (the sensor syncs today's worklogs within minutes), so the schedule
names yesterday itself rather than taking the newest partition.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from assets.pair import Pair


def daily_sync(pair: Pair, job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    schedule = pair.schedule

    @dg.schedule(
        name=f"{job.name}_schedule",
        job=job,
        cron_schedule=f"{schedule.minute} {schedule.hour} * * *",
        execution_timezone=schedule.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Sync yesterday's worklogs every day, at the hour the policy file's [schedule] sets.",
    )
    def _daily_sync(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        today = context.scheduled_execution_time.astimezone(ZoneInfo(schedule.timezone)).date()
        return dg.RunRequest(partition_key=(today - timedelta(days=1)).isoformat())

    return _daily_sync
