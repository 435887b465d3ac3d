"""Another process holding a DuckDB file for writing, as a run would."""

from __future__ import annotations

import subprocess
import sys

_HOLD = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
connection.execute("create table if not exists hold (x integer)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.close()
"""


def hold_write_lock(path: str, seconds: float) -> subprocess.Popen[str]:
    """Start a process that opens ``path`` for writing and keeps it for ``seconds``; returns once
    the lock is held. Kill or wait for it when done."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, path, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder
