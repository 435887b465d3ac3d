"""The Dagster code location (definitions, jobs, schedules, sensors, wiring); may import assets,
replication, resources and sandbox, never cli."""
