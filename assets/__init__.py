"""The assets of the worklog graph (extract, transform, load, their checks, the work-date
partitions); thin Dagster steps that may import replication and resources only."""
