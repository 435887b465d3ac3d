"""Typed clients for Tempo, Jira and the DuckDB warehouse, shared by the assets."""
