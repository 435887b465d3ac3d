"""Hand a pandas frame to DuckDB under a name, for one block of SQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd


@contextmanager
def registered(connection: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> Iterator[None]:
    connection.register(name, frame)
    try:
        yield
    finally:
        connection.unregister(name)
