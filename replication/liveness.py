"""Which process runs a step, and whether a process recorded earlier is still alive.

A ledger claim belongs to a run; a run killed with ``kill -9`` never says it has stopped, and an
ephemeral Dagster instance (no ``DAGSTER_HOME``) cannot see other processes' runs at all. The
process itself is the one witness that cannot lie: on the host that holds the DuckDB file, a
claim whose process is gone is free, and one whose process lives is not.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


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


CLAIM_LEASE = timedelta(minutes=15)
# A request sent by a process just before it died may still be in the service's hands; 45 s is
# past the client's 30 s timeout, after which the service has finished with it or dropped it.
ORPHAN_GRACE = timedelta(seconds=45)

# Whether the Dagster instance sees the run still going; None when the instance does not know it
# (an ephemeral instance in another process).
RunIsActive = Callable[[str], bool | None]


class ClaimHolders:
    """Decides whether a pending row's claim still belongs to another, living run.

    A claim of a run that recorded its own end is free. On this host, a claim is held while its
    run's process lives, and for ``ORPHAN_GRACE`` after the claim once it is gone without
    recording an end (kill -9 tells nobody). A claim whose process cannot be seen
    (another host, or this very process, which may serve several runs) is free once the instance
    has seen its run finish, and held for ``CLAIM_LEASE`` otherwise.
    """

    def __init__(self, run_id: str, run_is_active: RunIsActive) -> None:
        self.run_id = run_id
        self.run_is_active = run_is_active
        self.now = datetime.now(UTC)
        self.verdicts: dict[str, bool] = {}

    def elsewhere(self, row: Mapping[str, Any]) -> bool:
        claimer = row["claim_run_id"]
        if claimer is None or claimer == self.run_id:
            return False
        if claimer not in self.verdicts:
            self.verdicts[claimer] = self._held(row)
        return self.verdicts[claimer]

    def _held(self, row: Mapping[str, Any]) -> bool:
        claimed_at = row["claimed_at"]
        if claimed_at is None or row["claim_run_status"] in ("succeeded", "failed"):
            return False  # the run ended on its own: every request it sent has had its answer
        if row["claim_pid"] is not None:
            process = ProcessIdentity(row["claim_host"], row["claim_pid"], row["claim_process_started"])
            if process.is_local() and process != ProcessIdentity.current():
                # Checked before the instance: a crashed run it was told about still needs the grace.
                return process.is_alive() or self.now - claimed_at < ORPHAN_GRACE
        if self.run_is_active(row["claim_run_id"]) is False:
            return False
        return self.now - claimed_at < CLAIM_LEASE
