"""End to end, over HTTP: edits and deletions of synced worklogs reach their copies, opt-in, exactly once.

The source changes as people change it: through the sandbox's inspection surface, at the sandbox
clock (``SandboxAdmin.edit_worklog`` and ``delete_worklog``). A third party changes copies on the
destination the same way. Every assertion reads the destination back over its own API or counts
the requests the sandbox saw.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.sensors import LateCursor
from replication.liveness import ORPHAN_GRACE
from sandbox.admin_client import SandboxAdmin
from sandbox.config import Profile
from tests.conftest import TEST_CLOCK
from tests.support.cli import is_holding, kill_run, shared_instance_environment, start_run, wait_for_run
from tests.support.sync import SyncHarness, sensor_tick

DAY = date(2025, 3, 5)
NEXT_DAY = date(2025, 3, 6)
UPDATES = "[propagate]\nupdates = true\n"
DELETES = "[propagate]\ndeletes = true\n"
BOTH = "[propagate]\nupdates = true\ndeletes = true\n"
# Jira's deleted-worklog feed leaves out the last minute; the clock moves past it before a run.
PAST_THE_FEED_LAG = 120

TEMPO_PUT = "PUT /4/worklogs/{id}"
ACTIVITIES = ("design", "development", "meeting", "support")  # the values of the sandbox's _Activity_
TEMPO_DELETE = "DELETE /4/worklogs/{id}"


def _synced(harness: SyncHarness) -> list[dict[str, Any]]:
    """The synced worklogs: source id, copy id, destination issue, author and work date."""
    rows = harness.query(
        "select l.tempo_worklog_id, l.destination_tempo_worklog_id, l.destination_jira_worklog_id,"
        " l.destination_issue_id, r.destination_author_account_id, r.source_issue_key, r.work_date,"
        " r.description"
        " from sync.worklog_links l join replica.worklogs r using (tempo_worklog_id)"
        " where l.state = 'created' order by 1"
    )
    names = (
        "tempo_id",
        "copy_id",
        "jira_copy_id",
        "issue_id",
        "author",
        "issue_key",
        "work_date",
        "description",
    )
    return [dict(zip(names, row, strict=True)) for row in rows]


def _copy(harness: SyncHarness, copy_id: int) -> dict[str, Any] | None:
    answer = harness.tempo("destination").get(f"/4/worklogs/{copy_id}")
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    return answer.json()


def _writes(admin: SandboxAdmin, site: str = "destination", service: str = "tempo") -> dict[str, int]:
    """The write requests a site's service answered, by endpoint."""
    return {
        row["endpoint"]: row["count"]
        for row in admin.stats()["requests"]
        if row["site"] == site
        and row["service"] == service
        and row["endpoint"].split()[0] in ("POST", "PUT", "DELETE")
        and "search" not in row["endpoint"]
        and "tempo-to-jira" not in row["endpoint"]
    }


def _events(harness: SyncHarness, tempo_id: int) -> list[str]:
    return [
        row[0]
        for row in harness.query(
            "select event from sync.events where tempo_worklog_id = ? order by occurred_at", [tempo_id]
        )
    ]


def _advance(admin: SandboxAdmin, seconds: int = PAST_THE_FEED_LAG) -> None:
    admin.advance_clock(seconds)


def test_with_propagation_off_nothing_but_creations_is_ever_sent(harness: SyncHarness) -> None:
    assert harness.run(DAY).success
    synced = _synced(harness)
    with harness.sandbox.admin() as admin:
        for worklog in synced[:3]:
            admin.edit_worklog("source", worklog["tempo_id"], description="changed later", time_spent=4500)
        for worklog in synced[3:5]:
            admin.delete_worklog("source", worklog["tempo_id"])
        _advance(admin)
        admin.reset_stats()
        assert harness.run(DAY).success
        assert _writes(admin) == {}, "no create, edit or delete reached the destination"
        assert admin.count("source", "tempo", "GET /4/worklogs/{id}") == 0
        assert admin.count("source", "jira", "GET /rest/api/3/worklog/deleted") == 0
    for worklog in synced[:5]:
        copy = _copy(harness, worklog["copy_id"])
        assert copy is not None
        assert copy["description"] != "changed later"
    assert harness.scalar("select count(*) from sync.worklog_links where state <> 'created'") == 0


def test_each_kind_of_edit_reaches_its_copy_with_every_field_right(harness: SyncHarness) -> None:
    harness.set_policy(UPDATES)
    assert harness.run(DAY).success
    synced = [w for w in _synced(harness) if w["work_date"] == DAY]
    fields, attributes, moved, reauthored, rehomed = synced[:5]
    other_author = next(w["author"] for w in synced if w["author"] != reauthored["author"])
    other_issue = next(w for w in synced if w["issue_id"] != rehomed["issue_id"])
    with harness.sandbox.admin() as admin:
        source_author = {
            p["destination"]["account_id"]: p["source"]["account_id"]
            for p in admin.people()
            if p["source"] and p["destination"]
        }
        admin.edit_worklog(
            "source",
            fields["tempo_id"],
            description="Réunion ☕ (edited)",
            time_spent=5400,
            billable=1800,
            start_time="07:45:00",
        )
        now = (
            harness.tempo("source")
            .get(f"/4/worklogs/{attributes['tempo_id']}")
            .json()["attributes"]["values"]
        )
        activity = next(a for a in ACTIVITIES if {"key": "_Activity_", "value": a} not in now)
        admin.edit_worklog("source", attributes["tempo_id"], attributes={"_Activity_": activity})
        admin.edit_worklog("source", moved["tempo_id"], start_date=NEXT_DAY.isoformat())
        admin.edit_worklog("source", reauthored["tempo_id"], author_account_id=source_author[other_author])
        admin.edit_worklog("source", rehomed["tempo_id"], issue_key=other_issue["issue_key"])
        admin.reset_stats()
        result = harness.run(DAY, NEXT_DAY)
        assert result.success
        writes = _writes(admin)
    # Four edits in place, one copy re-homed (created on its new issue, the old one deleted).
    assert writes.get(TEMPO_PUT) == 4
    assert writes.get(TEMPO_DELETE) == 1
    assert writes.get("POST /4/worklogs", 0) + writes.get("POST /4/worklogs/issue/{issueId}/bulk", 0) >= 1

    copy = _copy(harness, fields["copy_id"])
    assert copy is not None
    assert (copy["description"], copy["timeSpentSeconds"], copy["billableSeconds"], copy["startTime"]) == (
        "Réunion ☕ (edited)",
        5400,
        1800,
        "07:45:00",
    )
    copy = _copy(harness, attributes["copy_id"])
    assert copy is not None
    assert {v["key"]: v["value"] for v in copy["attributes"]["values"]}.get("_Activity_") == activity
    copy = _copy(harness, moved["copy_id"])
    assert copy is not None
    assert copy["startDate"] == NEXT_DAY.isoformat(), "moved in place: the same copy, on its new date"
    copy = _copy(harness, reauthored["copy_id"])
    assert copy is not None
    assert copy["author"]["accountId"] == other_author
    assert _copy(harness, rehomed["copy_id"]) is None, "the old copy is deleted once the new one exists"
    new_copy = harness.scalar(
        "select destination_tempo_worklog_id from sync.worklog_links where tempo_worklog_id = ?",
        [rehomed["tempo_id"]],
    )
    copy = _copy(harness, new_copy)
    assert copy is not None
    assert copy["issue"]["id"] == other_issue["issue_id"]
    assert "rehoming" in _events(harness, rehomed["tempo_id"])
    assert _events(harness, moved["tempo_id"])[-1] == "moved"
    before, after = harness.query(
        "select before_values, after_values from sync.events"
        " where tempo_worklog_id = ? and event = 'updated'",
        [fields["tempo_id"]],
    )[0]
    assert '"time_spent_seconds": 5400' in after
    assert '"time_spent_seconds": 5400' not in before

    # A second run finds every copy as the source has it: nothing is written.
    with harness.sandbox.admin() as admin:
        admin.reset_stats()
        assert harness.run(DAY, NEXT_DAY).success
        assert _writes(admin) == {}


@pytest.mark.full  # the fast form: the move within one range run, in the test above
def test_a_move_across_dates_is_carried_once_by_the_run_of_its_new_date(harness: SyncHarness) -> None:
    harness.set_policy(BOTH)
    assert harness.run(DAY).success
    worklog = _synced(harness)[0]
    with harness.sandbox.admin() as admin:
        admin.edit_worklog("source", worklog["tempo_id"], start_date=NEXT_DAY.isoformat())
        _advance(admin)
        admin.reset_stats()
        # The old date's run sees the worklog gone from its listing, asks Tempo, finds it moved,
        # and leaves the copy: neither deleted nor moved by this run.
        assert harness.run(DAY).success
        assert admin.count("source", "tempo", "GET /4/worklogs/{id}") == 1
        assert _writes(admin) == {}
        assert harness.scalar("select count(*) from raw.source_deletions") == 0
        assert harness.run(NEXT_DAY).success  # which also syncs the new date's own worklogs
        assert harness.run(DAY).success  # and the old date again: the move happened once
        changes = {endpoint: n for endpoint, n in _writes(admin).items() if not endpoint.startswith("POST")}
        assert changes == {TEMPO_PUT: 1}
    copy = _copy(harness, worklog["copy_id"])
    assert copy is not None
    assert copy["startDate"] == NEXT_DAY.isoformat()
    assert (
        harness.scalar(
            "select state from sync.worklog_links where tempo_worklog_id = ?", [worklog["tempo_id"]]
        )
        == "created"
    )


@pytest.mark.full  # the fast form: the guard's test below, whose deletions go once it allows them
def test_a_deleted_source_deletes_its_copy_and_a_worklog_merely_out_of_sight_deletes_nothing(
    harness: SyncHarness,
) -> None:
    harness.set_policy(DELETES)
    assert harness.run(DAY).success
    synced = _synced(harness)
    deleted = synced[0]
    late = harness.scalar(
        "select l.tempo_worklog_id from sync.worklog_links l"
        " join raw.source_worklogs w using (tempo_worklog_id)"
        " where l.state = 'created' and w.created_at > w.work_date + interval 2 day"
    )
    with harness.sandbox.admin() as admin:
        admin.delete_worklog("source", deleted["tempo_id"])
        admin.reset_stats()
        # Within a minute of the deletion, Jira's feed does not list it yet: no proof, no delete.
        assert harness.run(DAY).success
        assert _writes(admin) == {}
        _advance(admin)
        assert harness.run(DAY).success
        assert _writes(admin) == {TEMPO_DELETE: 1}
        # Back to a moment before the late worklog was logged: it leaves the listing and Tempo
        # answers 404, but nothing says it was deleted.
        admin.freeze_clock(TEST_CLOCK.replace(month=3, day=6))
        admin.reset_stats()
        assert harness.run(DAY).success
        assert _writes(admin) == {}
    assert _copy(harness, deleted["copy_id"]) is None
    assert (
        harness.scalar(
            "select state from sync.worklog_links where tempo_worklog_id = ?", [deleted["tempo_id"]]
        )
        == "deleted"
    )
    proof = harness.scalar(
        "select proof from raw.source_deletions where tempo_worklog_id = ?", [deleted["tempo_id"]]
    )
    assert "answered 404" in proof
    assert "deleted at" in proof
    assert (
        harness.scalar("select state from sync.worklog_links where tempo_worklog_id = ?", [late]) == "created"
    )
    assert len(_synced(harness)) == len(synced) - 1


def test_a_conflict_is_parked_or_overwritten_as_the_policy_says(harness: SyncHarness) -> None:
    harness.set_policy(BOTH)
    assert harness.run(DAY).success
    edited, deleted = _synced(harness)[:2]
    with harness.sandbox.admin() as admin:
        for worklog in (edited, deleted):
            admin.edit_worklog(
                "destination", worklog["copy_id"], description="fixed by hand on the destination"
            )
        admin.edit_worklog("source", edited["tempo_id"], description="edited on the source")
        admin.delete_worklog("source", deleted["tempo_id"])
        _advance(admin)
        admin.reset_stats()
        for _ in range(2):  # every run looks again, and leaves both sides alone
            result = harness.run(DAY)
            assert result.success
        assert _writes(admin) == {}
    for worklog in (edited, deleted):
        copy = _copy(harness, worklog["copy_id"])
        assert copy is not None
        assert copy["description"] == "fixed by hand on the destination"
        assert harness.query(
            "select status, park_reason from replica.worklogs where tempo_worklog_id = ?",
            [worklog["tempo_id"]],
        ) == [("parked", "destination_changed")]
        assert _events(harness, worklog["tempo_id"]).count("conflict") == 1
    found = harness.scalar(
        "select after_values from sync.events where event = 'conflict' and tempo_worklog_id = ?",
        [edited["tempo_id"]],
    )
    assert "fixed by hand on the destination" in found

    harness.set_policy(BOTH + 'conflicts = "source_wins"\n')
    assert harness.run(DAY).success
    copy = _copy(harness, edited["copy_id"])
    assert copy is not None
    assert copy["description"] == "edited on the source"
    assert _copy(harness, deleted["copy_id"]) is None
    detail = harness.scalar(
        "select detail from sync.events where event = 'updated' and tempo_worklog_id = ?",
        [edited["tempo_id"]],
    )
    assert "fixed by hand on the destination" in detail, "what was overwritten is recorded"
    assert (
        harness.scalar("select count(*) from replica.worklogs where park_reason = 'destination_changed'") == 0
    )


def test_the_guard_deletes_nothing_when_the_source_loses_too_many_worklogs(harness: SyncHarness) -> None:
    harness.set_policy(DELETES + "max_deletes_per_run = 2\n")
    assert harness.run(DAY).success
    synced = _synced(harness)[:3]
    with harness.sandbox.admin() as admin:
        for worklog in synced:
            admin.delete_worklog("source", worklog["tempo_id"])
        _advance(admin)
        admin.reset_stats()
        result = harness.run(DAY, raise_on_error=False)
        assert not result.success
        assert _writes(admin) == {}
    check = next(
        evaluation
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.check_name == "deletions_within_limit"
    )
    assert not check.passed
    assert check.metadata["would_delete"].value == 3
    assert check.metadata["allowed"].value == 2
    assert sorted(check.metadata["sample_source_ids"].value) == [w["tempo_id"] for w in synced]
    for worklog in synced:
        assert _copy(harness, worklog["copy_id"]) is not None

    harness.set_policy(DELETES + "max_deletes_per_run = 3\n")
    assert harness.run(DAY).success
    for worklog in synced:
        assert _copy(harness, worklog["copy_id"]) is None


def test_lost_answers_to_put_and_delete_leave_no_lost_edit_and_no_wrong_deletion(
    harness: SyncHarness,
) -> None:
    harness.set_policy(BOTH)
    assert harness.run(DAY).success
    edited, deleted, untouched = _synced(harness)[:3]
    with harness.sandbox.admin() as admin:
        admin.edit_worklog("source", edited["tempo_id"], time_spent=6300, description="edited")
        admin.delete_worklog("source", deleted["tempo_id"])
        _advance(admin)
        # Every PUT and DELETE on the destination is applied, then its answer is lost.
        admin.set_faults(share_lost_change=1.0, targets=["destination/tempo"])
        harness.run_until_success(DAY)
        assert admin.stats()["faults"]["lost_change"] >= 2
        admin.set_faults()
        admin.reset_stats()
        assert harness.run(DAY).success
        assert _writes(admin) == {}, "a settled change is not sent again"
    copy = _copy(harness, edited["copy_id"])
    assert copy is not None
    assert (copy["timeSpentSeconds"], copy["description"]) == (6300, "edited")
    assert _copy(harness, deleted["copy_id"]) is None
    assert _copy(harness, untouched["copy_id"]) is not None
    states = dict(
        harness.query(
            "select tempo_worklog_id, state from sync.worklog_links where tempo_worklog_id in (?, ?)",
            [edited["tempo_id"], deleted["tempo_id"]],
        )
    )
    assert states == {edited["tempo_id"]: "created", deleted["tempo_id"]: "deleted"}
    with harness.sandbox.admin() as admin:
        copies = [w for w in admin.changed_worklogs("destination") if not w["deleted"]]
    assert len(copies) == len(_synced(harness)), "no copy twice, none lost"


@pytest.mark.parametrize(
    "conflicts", ["park", pytest.param("source_wins", marks=pytest.mark.full)]
)  # the Tempo destination's source_wins is in the default suite
def test_the_jira_fallback_carries_edits_and_deletions(make_harness: Any, conflicts: str) -> None:
    harness = make_harness(BOTH + f'conflicts = "{conflicts}"\n', destination_tempo=False)
    assert harness.run(DAY).success
    synced = _synced(harness)
    edited, deleted, conflicted, rehomed = synced[:4]
    other_issue = next(w for w in synced if w["issue_id"] != rehomed["issue_id"])
    jira = harness.jira("destination")

    def copy_of(worklog: dict[str, Any]) -> dict[str, Any] | None:
        answer = jira.get(f"/rest/api/3/issue/{worklog['issue_id']}/worklog/{worklog['jira_copy_id']}")
        return None if answer.status_code == 404 else answer.json()

    def remaining(issue_id: int) -> int:
        issue = jira.get(f"/rest/api/3/issue/{issue_id}", params={"fields": "timetracking"}).json()
        return int(issue["fields"]["timetracking"].get("remainingEstimateSeconds") or 0)

    first = copy_of(edited)
    assert first is not None
    estimate_before = remaining(edited["issue_id"])
    with harness.sandbox.admin() as admin:
        admin.edit_worklog(
            "source",
            edited["tempo_id"],
            time_spent=int(first["timeSpentSeconds"]) + 1800,
            description="edited on the source",
        )
        admin.delete_worklog("source", deleted["tempo_id"])
        admin.edit_worklog("destination", conflicted["jira_copy_id"], by="jira", description="by hand")
        admin.edit_worklog("source", conflicted["tempo_id"], description="edited too")
        admin.edit_worklog("source", rehomed["tempo_id"], issue_key=other_issue["issue_key"])
        _advance(admin)
        admin.reset_stats()
        assert harness.run(DAY).success
        writes = _writes(admin, service="jira")
    # Jira cannot move a worklog to another issue in place: a new copy there, then the old one goes.
    assert copy_of(rehomed) is None
    (moved,) = [w for w in _synced(harness) if w["tempo_id"] == rehomed["tempo_id"]]
    assert moved["issue_id"] == other_issue["issue_id"]
    assert moved["jira_copy_id"] != rehomed["jira_copy_id"]
    assert copy_of(moved) is not None
    copy = copy_of(edited)
    assert copy is not None
    assert copy["timeSpentSeconds"] == int(first["timeSpentSeconds"]) + 1800
    assert "edited on the source" in str(copy["comment"])
    if estimate_before:
        assert remaining(edited["issue_id"]) == max(estimate_before - 1800, 0), (
            "the estimate goes down as for anyone's edit"
        )
    assert copy_of(deleted) is None
    conflicted_copy = copy_of(conflicted)
    assert conflicted_copy is not None
    if conflicts == "park":
        assert "by hand" in str(conflicted_copy["comment"])
        assert writes == {
            "POST /rest/api/3/issue/{issueIdOrKey}/worklog": 1,
            "PUT /rest/api/3/issue/{issueIdOrKey}/worklog/{id}": 1,
            "DELETE /rest/api/3/issue/{issueIdOrKey}/worklog/{id}": 2,
        }
    else:
        assert "edited too" in str(conflicted_copy["comment"])


# Full strength only: it waits out the orphan grace (45 s). The default suite covers the same
# settling by a read with lost answers, and the kill -9 of a creation's send in test_crash.py.
@pytest.mark.slow
@pytest.mark.full
def test_kill_9_between_the_send_and_the_record_of_an_edit_then_a_rerun_settles_it_without_sending_again(
    make_harness: Any, tmp_path: Path
) -> None:
    harness = make_harness(UPDATES)
    assert harness.run(DAY).success
    worklog = _synced(harness)[0]
    environ = shared_instance_environment(harness, tmp_path / "dagster_home")
    with harness.sandbox.admin() as admin:
        admin.edit_worklog(
            "source", worklog["tempo_id"], description="edited before the crash", time_spent=4200
        )
        admin.hold("destination", "tempo", TEMPO_PUT, when="after")
        run = start_run(environ, tmp_path, DAY, DAY)
        wait_for_run(lambda: is_holding(admin), "the PUT held after it was applied", run)
        kill_run(run)
        admin.release_holds()
        assert harness.query(
            "select change, change_state from sync.worklog_links where tempo_worklog_id = ?",
            [worklog["tempo_id"]],
        ) == [("update", "sent")]
        # The rerun leaves the claim alone while a request of the dead run could still be in flight.
        claimed = harness.scalar(
            "select change_claimed_at from sync.worklog_links where tempo_worklog_id = ?",
            [worklog["tempo_id"]],
        )
        time.sleep(max(0.0, (claimed + ORPHAN_GRACE - datetime.now(UTC)).total_seconds()) + 1)
        rerun = start_run(environ, tmp_path, DAY, DAY)
        _, stderr = rerun.communicate(timeout=280)
        assert rerun.returncode == 0, stderr[-2000:]
        assert admin.count("destination", "tempo", TEMPO_PUT) == 1, "settled by a read, not sent again"
    copy = _copy(harness, worklog["copy_id"])
    assert copy is not None
    assert (copy["description"], copy["timeSpentSeconds"]) == ("edited before the crash", 4200)
    assert harness.query(
        "select change, change_state from sync.worklog_links where tempo_worklog_id = ?",
        [worklog["tempo_id"]],
    ) == [(None, None)]
    detail = harness.scalar(
        "select detail from sync.events where event = 'updated' and tempo_worklog_id = ?",
        [worklog["tempo_id"]],
    )
    assert "a read settled" in detail


def _sensor_days(harness: SyncHarness, cursor: str | None) -> tuple[list[tuple[str, str]], str | None]:
    """One tick of the late-worklogs sensor: the date ranges it asks runs for, and its new cursor."""
    result, _ = sensor_tick(harness, cursor)
    start, end = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
    ranges = [(request.tags[start], request.tags[end]) for request in result.run_requests or []]
    return ranges, result.cursor


def test_the_sensor_asks_for_the_dates_of_edited_moved_and_deleted_synced_worklogs(
    harness: SyncHarness,
) -> None:
    harness.set_policy(BOTH)
    assert harness.run(DAY).success
    # The ticks start at the sandbox's frozen clock, as if the sensor had run until then.
    ranges, cursor = _sensor_days(harness, LateCursor(TEST_CLOCK).dump())
    assert ranges == [], "nothing changed: no run"
    edited, moved, deleted = _synced(harness)[:3]
    far = date(2025, 3, 17)
    with harness.sandbox.admin() as admin:
        admin.edit_worklog("source", edited["tempo_id"], description="edited")
        ranges, cursor = _sensor_days(harness, cursor)
        assert ranges == [(DAY.isoformat(), DAY.isoformat())]
        admin.edit_worklog("source", moved["tempo_id"], start_date=far.isoformat())
        ranges, cursor = _sensor_days(harness, cursor)
        assert ranges == [(DAY.isoformat(), DAY.isoformat()), (far.isoformat(), far.isoformat())]
        admin.delete_worklog("source", deleted["tempo_id"])
        _advance(admin)
        ranges, cursor = _sensor_days(harness, cursor)
        assert ranges == [(DAY.isoformat(), DAY.isoformat())]
        assert _sensor_days(harness, cursor)[0] == [], "each change is asked for once"


@pytest.mark.full  # the fast form: the conflict test above, and the dry runs of test_propagation_cli.py
def test_a_conflict_clears_when_the_source_goes_back_and_a_dry_run_plans_it_without_writing(
    harness: SyncHarness,
) -> None:
    harness.set_policy(UPDATES)
    assert harness.run(DAY).success
    worklog = _synced(harness)[0]
    with harness.sandbox.admin() as admin:
        admin.edit_worklog("destination", worklog["copy_id"], description="fixed by hand")
        admin.edit_worklog("source", worklog["tempo_id"], description="edited on the source")
        assert harness.run(DAY).success
        assert _events(harness, worklog["tempo_id"])[-1] == "conflict"
        admin.edit_worklog("source", worklog["tempo_id"], description=worklog["description"])
        admin.reset_stats()
        dry = harness.run(DAY, run_config={"ops": {"destination_worklogs": {"config": {"dry_run": True}}}})
        assert dry.success
        assert _writes(admin) == {}
        assert _events(harness, worklog["tempo_id"])[-1] == "conflict", "a dry run changes no ledger row"
        assert harness.run(DAY).success
        assert _writes(admin) == {}
    assert _events(harness, worklog["tempo_id"])[-1] == "conflict_cleared"
    assert harness.query(
        "select status, park_reason from replica.worklogs where tempo_worklog_id = ?", [worklog["tempo_id"]]
    ) == [("ready", None)]
    copy = _copy(harness, worklog["copy_id"])
    assert copy is not None
    assert copy["description"] == "fixed by hand", "the copy keeps what the destination made of it"


@pytest.mark.parametrize("destination_tempo", [True, False], ids=["tempo", "jira"])
def test_edits_clearing_values_and_deletions_hold_under_every_other_reading_of_the_documents(
    make_harness: Any, destination_tempo: bool
) -> None:
    # Every switch at its last value: among them a PUT that keeps what its body leaves out, writes
    # that trim descriptions and leave out start times and billables, Jira's started at +0000,
    # and a deletion's `auto` estimate read the other way.
    every_other = {name: values[-1] for name, values in Profile.choices().items()}
    harness = make_harness(BOTH, profile=Profile(**every_other), destination_tempo=destination_tempo)
    assert harness.run(DAY).success
    cleared, deleted = _synced(harness)[:2]
    with harness.sandbox.admin() as admin:
        # Clearing is the edit a PUT that keeps omitted fields would lose, if tempo-sync omitted them.
        admin.edit_worklog(
            "source", cleared["tempo_id"], description=None, start_time=None, billable=None, time_spent=2700
        )
        admin.delete_worklog("source", deleted["tempo_id"])
        _advance(admin)
        assert harness.run(DAY).success
        admin.reset_stats()
        assert harness.run(DAY).success
        assert _writes(admin, service="tempo" if destination_tempo else "jira") == {}, (
            "settled: nothing again"
        )
    synced = {w["tempo_id"]: w for w in _synced(harness)}
    assert deleted["tempo_id"] not in synced
    if destination_tempo:
        copy = _copy(harness, cleared["copy_id"])
        assert copy is not None
        assert copy["timeSpentSeconds"] == 2700
        assert not (copy.get("description") or "").strip(), "the description is cleared, not kept"
        assert copy.get("startTime") in (None, "00:00:00", "0:00:00")
        assert copy.get("billableSeconds") in (None, 2700)
        assert _copy(harness, deleted["copy_id"]) is None
    else:
        jira = harness.jira("destination")
        copy = jira.get(f"/rest/api/3/issue/{cleared['issue_id']}/worklog/{cleared['jira_copy_id']}").json()
        assert copy["timeSpentSeconds"] == 2700
        gone = jira.get(f"/rest/api/3/issue/{deleted['issue_id']}/worklog/{deleted['jira_copy_id']}")
        assert gone.status_code == 404
