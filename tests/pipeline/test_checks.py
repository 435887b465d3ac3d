"""The asset checks inside real runs: all pass on a clean sync; a failing blocking check stops the load."""

from __future__ import annotations

from datetime import date

import duckdb

DAY = date(2025, 3, 5)
BLOCKING = {"replica_is_complete", "replica_fields_are_valid", "no_destination_worklog_claimed_twice"}


def test_every_check_passes_on_a_clean_partition(harness):
    result = harness.run(DAY)
    assert result.success
    outcomes = {e.check_name: (e.passed, e.partition) for e in result.get_asset_check_evaluations()}
    assert set(outcomes) == BLOCKING | {
        "parked_share_is_low", "destination_matches_ledger", "no_worklog_in_doubt", "sync_is_fresh",
    }  # fmt: skip
    # Freshness is measured against today, and the test data is from 2025; everything else passes.
    assert {name for name, (passed, _) in outcomes.items() if not passed} == {"sync_is_fresh"}
    assert outcomes["destination_matches_ledger"] == (True, "2025-03-05")


def test_with_propagation_on_destination_matches_ledger_names_a_copy_whose_values_changed(harness):
    harness.set_policy("[propagate]\nupdates = true\n")
    assert harness.run(DAY).success
    copy_id = harness.scalar(
        "select min(destination_tempo_worklog_id) from sync.worklog_links where state = 'created'"
    )
    destination = harness.tempo("destination")
    copy = destination.get(f"/4/worklogs/{copy_id}").json()
    # Someone rewrites the description; the seconds and the author stay as they were.
    edited = {
        "authorAccountId": copy["author"]["accountId"],
        "startDate": copy["startDate"],
        "startTime": copy["startTime"],
        "timeSpentSeconds": copy["timeSpentSeconds"],
        "billableSeconds": copy["billableSeconds"],
        "description": "rewritten on the destination",
    }
    assert destination.put(f"/4/worklogs/{copy_id}", json=edited).status_code == 200
    result = harness.run(DAY)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    # With [propagate] on, the code location has the two checks that watch edits and deletions.
    assert {"deletions_within_limit", "edits_reach_their_copies"} <= set(evaluations)
    check = evaluations["destination_matches_ledger"]
    assert not check.passed
    assert check.metadata["changed_on_destination"].value == 1
    assert check.metadata["sample_changed_ids"].value == [copy_id]
    assert check.metadata["seconds_mismatches"].value == []


def test_a_failing_blocking_check_stops_the_load(harness):
    assert harness.run(DAY).success
    # Corrupt the ledger: one destination worklog now appears linked to two source worklogs.
    with duckdb.connect(str(harness.duckdb_path)) as connection:
        connection.execute(
            "update sync.worklog_links set destination_tempo_worklog_id ="
            " (select min(destination_tempo_worklog_id) from sync.worklog_links)"
            " where tempo_worklog_id = (select max(tempo_worklog_id) from sync.worklog_links)"
        )
    with harness.sandbox.admin() as admin:
        before = len(admin.changed_worklogs("destination"))
    result = harness.run(date(2025, 3, 6), raise_on_error=False)
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["no_destination_worklog_claimed_twice"]
    assert failed[0].metadata["claimed_twice"].value == 1
    assert not result.asset_materializations_for_node("destination_worklogs")
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) == before  # nothing was sent


def test_an_unconfirmed_worklog_of_another_date_fails_the_doubt_check_of_every_run(harness):
    assert harness.run(DAY).success
    # As a load leaves a row whose copy it could neither find nor prove absent.
    (doubtful,) = harness.query("select max(tempo_worklog_id) from sync.worklog_links")[0]
    with duckdb.connect(str(harness.duckdb_path)) as connection:
        connection.execute(
            "update sync.worklog_links set state = 'unconfirmed', candidates = [1001]"
            " where tempo_worklog_id = ?",
            [doubtful],
        )
    result = harness.run(date(2025, 3, 6))
    assert result.success  # the other date syncs; the doubt is about 2025-03-05
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_worklog_in_doubt"]
    assert not check.passed
    assert check.metadata["unconfirmed"].value == 1
    assert check.metadata["sample_unconfirmed_ids"].value == [doubtful]
