"""Which process runs a step, and whether a process recorded earlier is still alive.

A ledger claim belongs to a run; a run killed with ``kill -9`` never says it has stopped, and an
ephemeral Dagster instance (no ``DAGSTER_HOME``) cannot see other processes' runs at all. The
process itself is the one witness that cannot lie: on the host that holds the DuckDB file, a
claim whose process is gone is free, and one whose process lives is not.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessIdentity:
    """A process, told apart from a later one that reuses its pid by its start time since boot."""

    host: str
    pid: int
    started: str | None  # "<boot id>:<start ticks>" where /proc has them

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity:
        """A process of this host, as it is now."""
        return cls(socket.gethostname(), pid, _start_mark(pid))

    @classmethod
    def current(cls) -> ProcessIdentity:
        return cls.of(os.getpid())

    def is_local(self) -> bool:
        return self.host == socket.gethostname()

    def is_alive(self) -> bool:
        """Whether this process still runs; only answerable on its own host."""
        if not self.is_local():
            raise ValueError(f"process {self.pid} ran on {self.host}, not on this host")
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # another user's process: it exists
        stat = _stat(self.pid)
        if stat is None:
            return self.started is None
        state, started = stat
        # A killed process its parent has not reaped yet is a zombie: it holds nothing.
        return state != "Z" and (self.started is None or started == self.started)


def _start_mark(pid: int) -> str | None:
    stat = _stat(pid)
    return stat[1] if stat else None


def _stat(pid: int) -> tuple[str, str] | None:
    """The process's state letter and "<boot id>:<start ticks>", where /proc has them."""
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; state is field 3, start time 22.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], f"{boot_id}:{fields[19]}"
