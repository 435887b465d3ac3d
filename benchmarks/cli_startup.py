"""How soon tempo-sync answers: ``--help``, ``status`` and ``trace``, and a run's fixed cost, for
this tree and a baseline revision measured in the same run.

A run's fixed cost is the time from the process start to the first request the sandbox receives:
everything a run does before its work begins (imports, the code location, the Dagster instance,
the DuckDB file, the preflight's setup). The sandbox runs in a process of its own (live mode), and
this script polls its request counters while the run starts; the whole run's time is shown too,
so that a cost moved after the first request does not pass for a cost removed.

Both trees run the same way: this interpreter and its installed dependencies, the tree first on
``PYTHONPATH``, the ``tempo-sync`` entry point its own pyproject.toml names, each in a fresh
process, with compiled bytecode as an installed product has it (``--compile-each-time`` measures
instead what an environment that forbids writing bytecode pays, as ``uv run`` on this machine).
The baseline is checked out in a temporary git worktree, removed at the end.

    uv run python benchmarks/cli_startup.py [--baseline 55ff5f7] [--repeat 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from support import Sandbox, sandbox_process, with_bytecode

from sandbox.admin_client import SandboxAdmin

REPO = Path(__file__).resolve().parent.parent
DAY = "2025-03-05"  # a complete work date under the benchmark sandbox's frozen clock
POLL_SECONDS = 0.01  # a faster poll would take the CPU the measured start needs
# Runs a tree's console-script entry point the way the installed script does.
LAUNCH = "import sys; sys.argv[0] = 'tempo-sync'; from {module} import {function}; sys.exit({function}())"


@dataclass
class Tree:
    """A checkout of tempo-sync and how to start its command line."""

    label: str
    root: Path
    env: dict[str, str]
    work: Path
    figures: dict[str, list[float]] = field(default_factory=dict)

    def command(self, *args: str) -> list[str]:
        pyproject = tomllib.loads((self.root / "pyproject.toml").read_text(encoding="utf-8"))
        module, function = pyproject["project"]["scripts"]["tempo-sync"].split(":")
        return [sys.executable, "-c", LAUNCH.format(module=module, function=function), *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        finished = subprocess.run(
            self.command(*args), cwd=self.work, env=self.env, capture_output=True, text=True, check=False
        )
        if finished.returncode != 0:
            raise SystemExit(f"{self.label}: tempo-sync {' '.join(args)} exited {finished.returncode}:\n"
                             f"{finished.stderr[-2000:]}")  # fmt: skip
        return finished

    def time(self, name: str, *args: str) -> None:
        started = time.perf_counter()
        self.run(*args)
        self.figures.setdefault(name, []).append(time.perf_counter() - started)


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """``revision`` checked out in a temporary git worktree."""
    where = Path(tempfile.mkdtemp(prefix="tempo-sync-baseline-"))
    git = ["git", "-C", str(REPO)]
    subprocess.run([*git, "worktree", "add", "--detach", "--quiet", str(where), revision], check=True)
    try:
        yield where
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(where)], check=False)
        shutil.rmtree(where, ignore_errors=True)


def fixed_cost(tree: Tree, admin: SandboxAdmin) -> tuple[float, float]:
    """One ``tempo-sync run``: seconds to the sandbox's first request, and to the end."""

    def served() -> int:
        stats = admin.stats()
        return int(stats["total"]) + sum(int(row["count"]) for row in stats["in_flight"])

    before = served()
    started = time.perf_counter()
    process = subprocess.Popen(tree.command("run", "--from", DAY, "--to", DAY), cwd=tree.work, env=tree.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    first = None
    while first is None and process.poll() is None:
        if served() > before:
            first = time.perf_counter() - started
        else:
            time.sleep(POLL_SECONDS)
    status = process.wait()
    whole = time.perf_counter() - started
    if status != 0 or first is None:
        raise SystemExit(
            f"{tree.label}: tempo-sync run exited {status} (first request seen: {first is not None})"
        )
    return first, whole


def measure(trees: list[Tree], sandbox: Sandbox, *, repeat: int, runs: int) -> None:
    """Each timing alternates between the trees, so that a change in the machine's load weighs on
    both alike."""
    commands: dict[str, dict[str, list[str]]] = {}
    for tree in trees:
        tree.run("run", "--from", DAY, "--to", DAY)  # compiles the bytecode and fills the DuckDB file
        with duckdb.connect(str(tree.work / "tempo_sync.duckdb"), read_only=True) as connection:
            row = connection.execute("select min(tempo_worklog_id) from sync.worklog_links").fetchone()
        worklog = str(row[0]) if row else "1"
        commands[tree.label] = {"--help": ["--help"], "status": ["status"], "trace": ["trace", worklog]}
        for args in commands[tree.label].values():
            tree.run(*args)  # warm the bytecode of the command's own modules
    for name in ("--help", "status", "trace"):
        for _ in range(repeat):
            for tree in trees:
                tree.time(name, *commands[tree.label][name])
    with SandboxAdmin(sandbox.urls.admin) as admin:
        for _ in range(runs):
            for tree in trees:
                first, whole = fixed_cost(tree, admin)
                tree.figures.setdefault("run: to the first request", []).append(first)
                tree.figures.setdefault("run: whole", []).append(whole)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default="55ff5f7", metavar="REV", help="the revision to compare with")
    parser.add_argument("--repeat", type=int, default=5, help="timings of each quick command (median shown)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per tree (median shown)")
    parser.add_argument("--compile-each-time", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE: each start compiles what it imports")  # fmt: skip
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="tempo-sync-bench-startup-"))
    try:
        with worktree(args.baseline) as baseline, sandbox_process([]) as sandbox:
            trees = []
            for label, root in (("current", REPO), (f"baseline {args.baseline}", baseline)):
                work = scratch / label.split()[0]
                work.mkdir()
                database = str(work / "tempo_sync.duckdb")
                env = {
                    **os.environ,
                    **sandbox.environment(),
                    "TEMPO_SYNC_DUCKDB": database,
                    "PYTHONPATH": str(root),
                }
                env.pop("DAGSTER_HOME", None)
                if not args.compile_each_time:
                    env = with_bytecode(env)
                trees.append(Tree(label, root, env, work))
            measure(trees, sandbox, repeat=args.repeat, runs=args.runs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    current, base = trees
    bytecode = "compiled on every start" if args.compile_each_time else "cached bytecode"
    print(f"tempo-sync start-up, median seconds ({bytecode}; {args.repeat} timings of each command,"
          f" {args.runs} runs of {DAY} in live mode)")  # fmt: skip
    print(f"{'':<28}{'current':>10}{base.label:>22}{'ratio':>8}")
    for name in current.figures:
        now, then = statistics.median(current.figures[name]), statistics.median(base.figures[name])
        print(f"{name:<28}{now:>10.2f}{then:>22.2f}{now / then:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
