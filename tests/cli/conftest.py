"""The end-to-end fixtures of tests/pipeline (a sandbox, settings for it, a temp DuckDB file)."""

from tests.pipeline.conftest import harness, make_harness

__all__ = ["harness", "make_harness"]
