"""The ``tempo-sync`` command line; may import pipelines, assets, replication, resources and sandbox.

Commands that only read the DuckDB file (``status``, ``trace``) import neither Dagster nor the code
location; ``run`` loads the code location in-process.
"""
