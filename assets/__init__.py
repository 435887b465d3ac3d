"""The assets of the worklog graph: extract, transform, load and their checks."""
