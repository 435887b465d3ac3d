"""API calls per propagated change: what an edit, a move, a re-home and a deletion cost.

A sandbox in its own process; one DuckDB file; ``tempo-sync run`` with ``[propagate] updates`` and
``deletes`` on. After the first sync, a rerun with no change measures the fixed cost of a run; then
each kind of change is made to ``--changes`` synced worklogs through the sandbox (as their authors
would), and one run carries them. A kind's cost per change is its run's calls minus the unchanged
rerun's, divided by the changes; the destination's writes and reads are shown apart.

    uv run python benchmarks/propagation.py [--changes 20] [--worklogs 120]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
from support import TEMPO_SYNC, Sandbox, by_endpoint, sandbox_process, with_bytecode

from sandbox.admin_client import SandboxAdmin

DAY = date(2025, 3, 5)
NEXT_DAY = date(2025, 3, 6)
POLICY = "[propagate]\nupdates = true\ndeletes = true\nmax_deletes_per_run = 1000\n"
# Jira's deleted-worklog feed leaves out the last minute.
PAST_THE_FEED_LAG = 120


class Product:
    """``tempo-sync run`` over one DuckDB file, run after run."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="tempo-sync-bench-propagation-"))
        config = self.work / "tempo-sync.toml"
        config.write_text(POLICY, encoding="utf-8")
        self.database = self.work / "tempo_sync.duckdb"
        env = {**os.environ, **sandbox.environment(), "TEMPO_SYNC_DUCKDB": str(self.database),
               "TEMPO_SYNC_CONFIG": str(config)}  # fmt: skip
        env.pop("DAGSTER_HOME", None)
        self.env = with_bytecode(env)
        self.sandbox = sandbox

    def run(self) -> Counter[str]:
        """One run over both dates; the requests it made, by site, service and endpoint."""
        before = by_endpoint(self.sandbox.requests())
        command = [TEMPO_SYNC, "run", "--from", DAY.isoformat(), "--to", NEXT_DAY.isoformat(), "--quiet"]
        finished = subprocess.run(
            command, env=self.env, cwd=self.work, capture_output=True, text=True, check=False
        )
        if finished.returncode != 0:
            raise SystemExit(f"tempo-sync run failed:\n{finished.stdout}\n{finished.stderr}")
        return by_endpoint(self.sandbox.requests()) - before

    def synced(self) -> list[tuple[int, str]]:
        """The synced worklogs of the first date: source Tempo id and source issue key."""
        with duckdb.connect(str(self.database), read_only=True) as connection:
            rows = connection.execute(
                "select l.tempo_worklog_id, r.source_issue_key from sync.worklog_links l"
                " join replica.worklogs r using (tempo_worklog_id)"
                " where l.state = 'created' and r.work_date = ? order by 1",
                [DAY],
            ).fetchall()
        return [(int(tempo_id), str(key)) for tempo_id, key in rows]

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=20, help="changes of each kind (default 20)")
    parser.add_argument("--worklogs", type=int, default=120, help="source worklogs per day (default 120)")
    args = parser.parse_args()
    options = ["--tempo-rate", "0", "--jira-rate", "0", "--worklogs-per-day", str(args.worklogs)]
    with sandbox_process(options) as sandbox:
        product = Product(sandbox)
        try:
            _measure(sandbox, product, args.changes)
        finally:
            product.close()


def _measure(sandbox: Sandbox, product: Product, changes: int) -> None:
    first = product.run()
    idle = product.run()
    synced = product.synced()
    if len(synced) < 4 * changes:
        raise SystemExit(
            f"only {len(synced)} synced worklogs on {DAY}; ask for fewer --changes or more --worklogs"
        )
    groups = [synced[index * changes : (index + 1) * changes] for index in range(4)]
    keys = sorted({key for _, key in synced})
    with SandboxAdmin(sandbox.urls.admin) as admin:

        def edit(tempo_id: int, _: str) -> None:
            admin.edit_worklog("source", tempo_id, description="edited for the benchmark", time_spent=5400)

        def move(tempo_id: int, _: str) -> None:
            admin.edit_worklog("source", tempo_id, start_date=NEXT_DAY.isoformat())

        def rehome(tempo_id: int, key: str) -> None:
            admin.edit_worklog("source", tempo_id, issue_key=next(k for k in keys if k != key))

        def delete(tempo_id: int, _: str) -> None:
            admin.delete_worklog("source", tempo_id)

        kinds: list[tuple[str, Callable[[int, str], None]]] = [
            ("edit", edit), ("move", move), ("re-home", rehome), ("delete", delete),
        ]  # fmt: skip
        measured = []
        for (name, change), group in zip(kinds, groups, strict=True):
            for tempo_id, key in group:
                change(tempo_id, key)
            admin.advance_clock(PAST_THE_FEED_LAG)
            measured.append((name, product.run()))
    print(
        f"first sync: {sum(first.values())} calls; a rerun with nothing changed: {sum(idle.values())} calls"
    )
    print(f"{'change':<10}{'changes':>8}{'run calls':>11}{'per change':>12}{'destination writes':>20}"
          f"{'destination reads':>19}")  # fmt: skip
    for name, calls in measured:
        added = calls - idle  # what the changes cost beyond a run that finds nothing to carry
        extra = sum(calls.values()) - sum(idle.values())
        writes = sum(n for endpoint, n in added.items() if _is_destination_write(endpoint))
        reads = sum(
            n for endpoint, n in added.items() if endpoint.startswith("destination") and " GET " in endpoint
        )
        print(f"{name:<10}{changes:>8}{sum(calls.values()):>11}{extra / changes:>12.2f}"
              f"{writes / changes:>20.2f}{reads / changes:>19.2f}")  # fmt: skip
    print("by endpoint, for each kind:")
    for name, calls in measured:
        print(
            f"  {name}: "
            + ", ".join(f"{endpoint} {count}" for endpoint, count in sorted((calls - idle).items()))
        )


def _is_destination_write(endpoint: str) -> bool:
    """Whether "site service METHOD /path" is a write to the destination (its searches are reads)."""
    site, _service, method, path = endpoint.split(" ", 3)
    reads = ("/search", "tempo-to-jira", "jira-to-tempo", "/worklog/list")
    return site == "destination" and method in ("POST", "PUT", "DELETE") and not any(r in path for r in reads)


if __name__ == "__main__":
    sys.exit(main())
