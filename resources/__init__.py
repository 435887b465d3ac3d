"""Typed clients for Tempo, Jira and the DuckDB warehouse, the settings and the policy; the bottom
layer, which imports none of the other packages."""
