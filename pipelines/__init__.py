"""The Dagster code location: definitions, partitions, jobs, schedules, settings and the CLI."""
