"""kill -9 of the process running the load, at the three points where a crash can hurt, then a
rerun: nothing is created twice and nothing is lost.

The sandbox holds the destination's bulk create at a known point (sandbox.holds) while the test
kills `tempo-sync run`: (1) claimed, not sent: the request is held before Tempo applies it and is
then dropped; (2) sent, not recorded: Tempo applies it and the answer never comes; (3) inside a
bulk call: Tempo is still creating the worklogs when the client dies, and finishes afterwards.
All three runs share one Dagster instance, which never hears that they died. Several issues load
at once, so other calls are in flight at each kill too; the test counts what they left behind.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from replication.liveness import ORPHAN_GRACE
from sandbox.admin_client import SandboxAdmin
from sandbox.config import DataKnobs
from tests.support.cli import is_holding, kill_run, shared_instance_environment, start_run, wait_for_run
from tests.support.sync import SyncHarness

DAY = date(2025, 3, 5)
BULK = "POST /4/worklogs/issue/{issueId}/bulk"
SINGLE = "POST /4/worklogs"
POINTS = ("before", "after", "inside")  # claimed not sent; sent not recorded; inside a bulk call


def _kill_while_held(admin: SandboxAdmin, start: Callable[[], subprocess.Popen[str]], *, when: str) -> None:
    """Start a run and kill it while the sandbox holds its next bulk call ``before`` or ``after``
    applying it, then let the held call go and wait until every call the run sent is done."""
    admin.hold("destination", "tempo", BULK, when=when)
    run = start()
    wait_for_run(lambda: is_holding(admin), f"a bulk call held {when} it is applied", run)
    kill_run(run)
    admin.release_holds()
    _wait_for_quiet(admin)


def _destination_ids(admin: SandboxAdmin) -> list[int]:
    return [w["tempo_id"] for w in admin.changed_worklogs("destination") if not w["deleted"]]


@pytest.mark.slow
@pytest.mark.parametrize(
    "points",
    [
        pytest.param(("after",), id="sent-not-recorded"),
        pytest.param(POINTS, marks=pytest.mark.full, id="all"),
    ],
)
def test_kill_9_at_each_point_of_the_load_then_a_rerun_creates_each_worklog_exactly_once(
    make_harness: Callable[..., SyncHarness], tmp_path, points: tuple[str, ...]
):
    # Few issues and many worklogs, so that destination issues get bulk calls; each bulk item
    # takes 0.3 s, so a bulk call lasts long enough to be killed inside.
    harness = make_harness(data=DataKnobs(issues=20, worklogs_per_day=120), bulk_item_seconds=0.3)
    environ = shared_instance_environment(harness, tmp_path / "dagster_home")
    with harness.sandbox.admin() as admin:
        # Other issues' calls are in flight too at each kill (several issues load at once); what
        # they applied without an answer is the baseline for the next point.
        unrecorded: set[int] = set()
        for point in points:
            before = unrecorded
            if point == "inside":
                run = start_run(environ, tmp_path, DAY, DAY)
                wait_for_run(lambda: admin.in_flight("destination", "tempo", BULK) > 0, "a bulk call", run)
                # In flight from its first byte; a moment more and its body has arrived, so the kill
                # lands while Tempo is creating its worklogs (about 0.3 s each), not while it uploads.
                time.sleep(1)
                kill_run(run)
                _wait_for_quiet(admin)
            else:
                _kill_while_held(admin, lambda: start_run(environ, tmp_path, DAY, DAY), when=point)
            unrecorded = _unrecorded(admin, harness)
            if point == "before":  # after the claim, before the send
                assert harness.scalar("select count(*) from sync.worklog_links where state = 'pending'") > 0
                assert admin.stats()["faults"]["held_then_dropped"] == 1, "the held request was dropped"
            elif point == "after":  # after the send, before the record
                assert admin.stats()["faults"]["held_then_unanswered"] == 1
                assert len(unrecorded - before) > 1, "the held bulk call was applied"
            else:  # in the middle of a bulk call
                assert len(unrecorded - before) > 1, "the bulk call finished after its client died"

        # Each run marks the ones before it crashed: their processes are gone.
        states = dict(harness.query("select status, count(*) from lineage.runs group by 1"))
        crashed = len(points) - 1
        assert states == {"running": 1} | ({"crashed": crashed} if crashed else {})
        pending = harness.scalar("select count(*) from sync.worklog_links where state = 'pending'")
        assert pending >= len(unrecorded)

        # The rerun frees the dead runs' claims once a request they sent cannot still be in flight.
        last_claim = harness.scalar("select max(claimed_at) from sync.worklog_links")
        time.sleep(max(0.0, (last_claim + ORPHAN_GRACE - datetime.now(UTC)).total_seconds()) + 1)
        rerun = start_run(environ, tmp_path, DAY, DAY)
        _, stderr = rerun.communicate(timeout=280)
        assert rerun.returncode == 0, stderr[-2000:]

        destination = _destination_ids(admin)
        expected_synced = {
            s["tempo_id"]
            for s in admin.scenarios("source", DAY, DAY)
            if s["visible"] and s["expected"] == "synced"
        }
    assert len(destination) == len(set(destination)), "a destination worklog id twice?"
    links = harness.query(
        "select tempo_worklog_id, destination_tempo_worklog_id from sync.worklog_links"
        " where state = 'created'"
    )
    assert {source for source, _ in links} == expected_synced
    assert sorted(target for _, target in links) == sorted(destination), "one destination worklog per source"
    assert harness.scalar("select count(*) from sync.worklog_links where state <> 'created'") == 0
    adopted = harness.scalar(
        "select count(*) from sync.events where event = 'adopted'"
        " and run_id = (select run_id from lineage.runs where status = 'succeeded')"
    )
    assert adopted == len(unrecorded), "the rerun adopted exactly the worklogs applied without a record"
    assert dict(harness.query("select status, count(*) from lineage.runs group by 1")) == {
        "crashed": len(points),
        "succeeded": 1,
    }


def _unrecorded(admin: SandboxAdmin, harness: SyncHarness) -> set[int]:
    """Destination worklogs the ledger does not know it created."""
    recorded = harness.query(
        "select destination_tempo_worklog_id from sync.worklog_links where state = 'created'"
    )
    return set(_destination_ids(admin)) - {tempo_id for (tempo_id,) in recorded}


def _wait_for_quiet(admin: SandboxAdmin) -> None:
    """Until the dead client's calls have been carried out."""
    deadline = time.monotonic() + 60
    while admin.in_flight("destination", "tempo", BULK) or admin.in_flight("destination", "tempo", SINGLE):
        assert time.monotonic() < deadline, "the calls never finished"
        time.sleep(0.05)
