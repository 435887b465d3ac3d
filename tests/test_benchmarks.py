"""The benchmark scripts run end to end on small loads and their figures agree with each other.

They are not tests of speed (those figures come from the scripts themselves, never from timed
assertions); these runs keep the scripts from rotting and check what must hold at any size. All
but the scale replay are full-strength tests (``--full``): the guarantees they measure have fast
tests of their own (pacing in tests/resources, the sensor's cost in test_schedule_sensor.py, the
light commands in tests/cli/test_startup.py).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.cli import REPO

pytestmark = pytest.mark.slow


def _run(script: str, *args: str) -> str:
    command = [sys.executable, str(REPO / "benchmarks" / script), *args]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240, check=False)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{pattern!r} not in:\n{text}"
    return float(found.group(1))


@pytest.mark.full
def test_versus_reference_syncs_the_same_worklogs_as_the_reference_script() -> None:
    out = _run("versus_reference.py", "--days", "1", "--worklogs", "60", "--issues", "20", "--users", "14",
               "--latency-ms", "0")  # fmt: skip
    reference = re.search(r"^reference script\s+(\d+)\s+(\d+)\s+(\d+)", out, re.MULTILINE)
    product = re.search(r"^tempo-sync\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)", out, re.MULTILINE)
    assert reference, out
    assert product, out
    synced = int(product.group(3))
    # Both copy every eligible worklog: the same number, and some of the 60.
    assert 0 < synced == int(reference.group(3)) <= 60
    assert int(product.group(2)) == 0  # no 429 answers
    calls = int(product.group(1))
    assert float(product.group(4)) == pytest.approx(calls / synced, abs=0.001)
    assert calls < int(reference.group(1))
    assert "tempo-sync run measured:" in out
    assert re.search(r"^(meets|misses): at least 10x less wall time", out, re.MULTILINE)


@pytest.mark.full
def test_rate_limit_reports_the_write_rate_and_no_429() -> None:
    out = _run("rate_limit.py", "--worklogs", "20", "--latency-ms", "0")
    created = _number(r"(\d+) worklogs created", out)
    assert created > 0
    assert _number(r"^destination creates: (\d+)", out) >= created
    assert 0 < _number(r"= ([\d.]+)% of the 5/s limit", out) <= 105
    assert _number(r"^429 answers: (\d+) of", out) == 0


def test_scale_fills_the_replica_with_every_replayed_worklog() -> None:
    out = _run("scale.py", "--sizes", "6000")
    row = re.search(r"^\s+6,000\s+([\d.]+)\s+([\d.]+)\s+(\d+)", out, re.MULTILINE)
    assert row, out
    assert float(row.group(1)) > 0  # seconds
    assert int(row.group(3)) > 0  # peak RSS
    # 6,000 is more than the 5,000 recorded worklogs: the replay's second copies carry new ids.
    assert "warning:" not in out


@pytest.mark.full
def test_freshness_brings_both_worklogs_across_once_with_one_run_at_a_time() -> None:
    out = _run("freshness.py", "--quick")
    figures = r"^latency, .* of (\d+) worklogs: p50 ([\d.]+) s, p95 ([\d.]+) s, max ([\d.]+) s"
    latency = re.search(figures, out, re.MULTILINE)
    assert latency, out
    assert int(latency.group(1)) == 2  # today's worklog and an earlier date's both arrived
    assert 0 < float(latency.group(2)) <= float(latency.group(3)) <= float(latency.group(4))
    assert _number(r"of them (\d+) for earlier work dates", out) == 1
    # While idle, only the sensor's reads of the source reach the sandbox.
    idle = out.split("\nidle:")[1].split("\n", 1)[1].split("\nruns launched")[0]  # the lines by endpoint
    assert set(re.findall(r"^\s+\d+\s+(.+)$", idle, re.MULTILINE)) <= {"source tempo GET /4/worklogs"}
    assert _number(r"^runs launched: (\d+)", out) >= 1
    assert _number(r"^most runs in flight at once: (\d+)", out) == 1
    assert _number(r"^duplicates on the destination: (\d+)", out) == 0
    assert "warning:" not in out


@pytest.mark.full
def test_cli_startup_times_both_trees_and_leaves_no_worktree_behind() -> None:
    out = _run("cli_startup.py", "--repeat", "1", "--runs", "1")
    rows = dict(
        re.findall(r"^(--help|status|trace|run: [a-z ]+?)\s+([\d.]+\s+[\d.]+\s+[\d.]+)$", out, re.MULTILINE)
    )
    assert list(rows) == ["--help", "status", "trace", "run: to the first request", "run: whole"], out
    for name, figures in rows.items():
        now, then, ratio = map(float, figures.split())
        assert now > 0, name
        assert then > 0, name
        assert ratio == pytest.approx(now / then, abs=0.01), name
    first = rows["run: to the first request"].split()
    whole = rows["run: whole"].split()
    assert float(first[0]) < float(whole[0])  # the first request comes before the run ends
    assert float(first[1]) < float(whole[1])
    worktrees = subprocess.run(
        ["git", "-C", str(REPO), "worktree", "list"], capture_output=True, text=True, check=True
    )
    assert "tempo-sync-baseline-" not in worktrees.stdout


@pytest.mark.full
def test_propagation_reports_the_calls_each_kind_of_change_costs() -> None:
    out = _run("propagation.py", "--changes", "3", "--worklogs", "60")
    per_change = {
        kind: float(found.group(1))
        for kind in ("edit", "move", "re-home", "delete")
        if (found := re.search(rf"^{kind}\s+3\s+\d+\s+([\d.]+)", out, re.MULTILINE))
    }
    # An edit or a move is one read of the copy and one PUT; a deletion adds the source's proof.
    assert per_change["edit"] == per_change["move"] == 2.0
    assert per_change["re-home"] > 2.0
    assert 3.0 <= per_change["delete"] <= 4.0


# The table pairs.py prints: one row per pair count.
_PAIRS_COLUMNS = ("pairs", "wall", "wall_ratio", "span", "span_ratio", "mean_run", "runs", "at_once",
                  "peak", "run_peaks", "largest_run", "copies", "duplicates")  # fmt: skip


@pytest.mark.full
@pytest.mark.timeout(600)
def test_pairs_syncs_every_pair_once_through_the_daemon_with_one_run_per_pair() -> None:
    # Its own call, with more time than _run's: a daemon, its first ticks and the runs of four pairs
    # on a loaded 2-core machine take about two minutes.
    command = [sys.executable, str(REPO / "benchmarks" / "pairs.py"), "--quick"]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=540, check=False)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    out = finished.stdout
    cells = r"\s+".join([r"(\d+)", *[r"([\d.]+)"] * 5, *[r"(\d+)"] * 7])
    rows = [
        dict(zip(_PAIRS_COLUMNS, map(float, found), strict=True))
        for found in re.findall(rf"^\s*{cells}$", out, re.MULTILINE)
    ]
    assert [row["pairs"] for row in rows] == [1, 3], out
    for row in rows:
        # The daemon's start and its first ticks come before the runs.
        assert row["wall"] > row["span"] > 0, out
        assert row["runs"] >= row["pairs"], out  # each pair's sensor launched its run
        assert 1 <= row["at_once"] <= row["pairs"], out  # never two runs of one pair at once
        assert row["peak"] > 0, out
        assert row["run_peaks"] >= row["largest_run"] > 0, out
        assert row["copies"] == 10 * row["pairs"], out  # --quick logs 10 worklogs per pair
        assert row["duplicates"] == 0, out
    # The ratios are to the first row's times, measured in the same run.
    base, three = rows
    assert three["wall_ratio"] == pytest.approx(three["wall"] / base["wall"], abs=0.01)
    assert three["span_ratio"] == pytest.approx(three["span"] / base["span"], abs=0.01)
    assert "meets: every worklog copied exactly once, every run succeeded" in out
    assert "warning:" not in out
