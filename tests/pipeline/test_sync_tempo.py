"""End to end, over real HTTP: the sync job against a sandbox whose destination has Tempo."""

from __future__ import annotations

from datetime import date

import pytest

from sandbox.config import DataKnobs
from tests.support.fields import fingerprint
from tests.support.refusals import deactivate_synced_authors

DAY = date(2025, 3, 5)
NEXT_DAY = date(2025, 3, 6)


def _load_metadata(result: object) -> dict[str, object]:
    """The load's metadata; a range run reports one materialization per partition, all alike."""
    materializations = result.asset_materializations_for_node("destination_worklogs")  # type: ignore[attr-defined]
    assert materializations
    return {key: value.value for key, value in materializations[0].metadata.items()}


def test_every_source_worklog_is_synced_or_parked_with_its_documented_reason(harness):
    result = harness.run(DAY)
    assert result.success
    with harness.sandbox.admin() as admin:
        scenarios = [s for s in admin.scenarios("source", DAY, DAY) if s["visible"]]
        created_on_destination = admin.changed_worklogs("destination")
    outcomes = harness.outcomes()
    assert {s["tempo_id"]: s["expected"] for s in scenarios} == {
        s["tempo_id"]: outcomes[s["tempo_id"]] for s in scenarios
    }
    parked_reasons = {outcome for outcome in outcomes.values() if outcome.startswith("parked:")}
    assert parked_reasons == {
        "parked:email_hidden", "parked:app_account", "parked:deleted_user", "parked:no_destination_user",
        "parked:inactive_destination_user", "parked:ambiguous_email", "parked:issue_unmapped",
    }  # fmt: skip
    synced = sum(1 for outcome in outcomes.values() if outcome == "synced")
    assert synced == sum(1 for s in scenarios if s["expected"] == "synced") > 20
    assert len(created_on_destination) == synced
    metadata = _load_metadata(result)
    assert metadata["created"] == synced
    assert metadata["dagster/partition_row_count"] == synced


def test_every_exchanged_field_arrives_as_it_was_on_the_source(harness):
    harness.set_policy('[load]\nremaining_estimate = "copy"\n')
    assert harness.run(DAY).success
    links = harness.query(
        "select r.tempo_worklog_id, l.destination_tempo_worklog_id, l.destination_jira_worklog_id,"
        " r.destination_author_account_id, r.source_jira_worklog_id, r.author_rule"
        " from replica.worklogs r join sync.worklog_links l using (tempo_worklog_id)"
        " where l.state = 'created'"
    )
    with harness.sandbox.admin() as admin:
        scenario_of = {s["tempo_id"]: s for s in admin.scenarios("source", DAY, DAY)}
        people = admin.people()
    twin = {p["source"]["account_id"]: p["destination"] for p in people if p["source"] and p["destination"]}
    source_tempo, destination_tempo = harness.tempo("source"), harness.tempo("destination")
    source_jira, destination_jira = harness.jira("source"), harness.jira("destination")
    seen_scenarios = set()
    with source_tempo, destination_tempo, source_jira, destination_jira:
        for tempo_id, destination_id, destination_jira_id, author, source_jira_id, rule in links:
            scenario = scenario_of[tempo_id]
            seen_scenarios.add(scenario["scenario"])
            source = source_tempo.get(f"/4/worklogs/{tempo_id}").json()
            copy = destination_tempo.get(f"/4/worklogs/{destination_id}").json()
            assert source_jira_id == scenario["jira_id"]
            assert destination_jira_id is not None
            # The same person: their destination account (matched by the documented rule).
            source_author = source["author"]["accountId"]
            assert copy["author"]["accountId"] == author == twin[source_author]["account_id"]
            assert rule in ("same_account", "email_match")
            # The corresponding issue: same key on both sites.
            source_issue = source_jira.get(
                f"/rest/api/3/issue/{source['issue']['id']}", params={"fields": "key,timeestimate"}
            ).json()
            copy_issue = destination_jira.get(
                f"/rest/api/3/issue/{copy['issue']['id']}", params={"fields": "key,timeestimate"}
            ).json()
            assert copy_issue["key"] == source_issue["key"]
            # Every exchanged field, compared as the destination stores it (a start time missing on
            # the source reads back as 00:00:00, a missing billable is the time spent, ...).
            assert fingerprint(copy, author, copy_issue["key"]) == fingerprint(
                source, author, source_issue["key"]
            ), scenario["scenario"]
            # The remaining estimate is the source issue's, set once per destination issue.
            assert copy_issue["fields"]["timeestimate"] == source_issue["fields"]["timeestimate"]
    assert {
        "unicode_description", "long_description", "no_description", "no_start_time", "start_near_midnight",
        "start_after_midnight", "billable_differs", "work_attributes", "edited_after_creation",
        "author:different_account_ids", "author:email_case", "author:email_prefix",
        "author:inactive_on_source",
    } <= seen_scenarios  # fmt: skip
    dropped = harness.query(
        "select dropped_attributes from replica.worklogs r join sync.worklog_links l using (tempo_worklog_id)"
        " where l.state = 'created' and dropped_attributes::varchar <> '[]'"
    )
    assert dropped
    assert all("_ExternalRef_" in row[0] for row in dropped)


def test_rerunning_a_synced_range_creates_nothing(harness):
    first = harness.run(DAY, date(2025, 3, 6))
    assert first.success
    with harness.sandbox.admin() as admin:
        before = len(admin.changed_worklogs("destination"))
    again = harness.run(DAY, date(2025, 3, 6))
    overlapping = harness.run(date(2025, 3, 6))
    assert again.success
    assert overlapping.success
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) == before
    assert _load_metadata(first)["created"] == before
    assert _load_metadata(again)["created"] == 0
    assert _load_metadata(again)["already_synced"] == before
    assert _load_metadata(overlapping)["created"] == 0
    runs = harness.query(
        "select status, partition_start, partition_end from lineage.runs order by started_at"
    )
    assert runs == [
        ("succeeded", DAY, date(2025, 3, 6)),
        ("succeeded", DAY, date(2025, 3, 6)),
        ("succeeded", date(2025, 3, 6), date(2025, 3, 6)),
    ]


def test_a_parked_worklog_syncs_once_its_author_exists_on_the_destination(harness):
    assert harness.run(DAY).success
    with harness.sandbox.admin() as admin:
        person = next(p for p in admin.people() if p["kind"] == "missing_on_destination")["source"]
    parked = harness.query(
        "select tempo_worklog_id from replica.worklogs"
        " where source_author_account_id = ? and park_reason = ?",
        [person["account_id"], "no_destination_user"],
    )
    assert parked
    with harness.sandbox.admin() as admin:
        admin.put_user("destination", "712020:hired-later", display_name=person["display_name"],
                       email=person["email"].upper(), time_zone=person["time_zone"])  # fmt: skip
    # A run of a later day retries every parked row, whatever its day.
    assert harness.run(date(2025, 3, 6)).success
    rows = harness.query(
        "select r.status, r.author_rule, r.destination_author_account_id, l.state, l.created_run_id"
        " from replica.worklogs r join sync.worklog_links l using (tempo_worklog_id)"
        " where r.tempo_worklog_id in (select unnest(?))",
        [[row[0] for row in parked]],
    )
    assert len(rows) == len(parked)
    assert all(row[:4] == ("ready", "email_match", "712020:hired-later", "created") for row in rows)


# The fast form: tests/resources/test_tempo.py reads pages of 5,000 through the client.
@pytest.mark.slow
@pytest.mark.full
def test_a_day_with_more_than_5000_worklogs_is_read_in_pages_and_synced(make_harness):
    harness = make_harness(data=DataKnobs(worklogs_per_day=5200), bulk_item_seconds=0.0)
    result = harness.run(DAY)
    assert result.success
    with harness.sandbox.admin() as admin:
        visible = [s for s in admin.scenarios("source", DAY, DAY) if s["visible"]]
        pages = admin.count("source", "tempo", "GET /4/worklogs")
        created = len(admin.changed_worklogs("destination"))
    assert len(visible) > 5000
    assert pages == 2
    assert harness.scalar("select count(*) from raw.source_worklogs") == len(visible)
    assert created == sum(1 for s in visible if s["expected"] == "synced")
    assert _load_metadata(result)["created"] == created


def test_a_definite_refusal_is_recorded_as_rejected_and_not_resent(make_harness):
    # Several worklogs per destination issue, so that refusals come from bulk calls too.
    harness = make_harness(data=DataKnobs(issues=20, worklogs_per_day=120))
    assert harness.run(DAY).success
    deactivate_synced_authors(harness)
    first = harness.run(NEXT_DAY)
    assert first.success  # a refusal is reported, it does not fail the run
    rejected = harness.query("select last_error from sync.worklog_links where state = 'rejected'")
    assert len(rejected) > 10
    assert all(error.startswith("400: ") and "inactive and cannot log work" in error for (error,) in rejected)
    assert _load_metadata(first)["rejected"] == len(rejected)
    with harness.sandbox.admin() as admin:
        posts = admin.count("destination", "tempo", "POST /4/worklogs")
        # Refused bulk calls were split, and each worklog was then refused on its own.
        assert admin.count("destination", "tempo", "POST /4/worklogs/issue/{issueId}/bulk", 400) >= 1
    # The rows did not change, so nothing is sent again.
    again = harness.run(NEXT_DAY)
    assert again.success
    assert _load_metadata(again)["created"] == 0
    with harness.sandbox.admin() as admin:
        assert admin.count("destination", "tempo", "POST /4/worklogs") == posts
        created = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
        assert len(admin.changed_worklogs("destination")) == created


def test_by_default_each_destination_issue_costs_one_create_and_its_estimate_goes_down(make_harness):
    harness = make_harness(data=DataKnobs(issues=20, worklogs_per_day=120))
    assert harness.run(DAY).success
    # The destination directory step read each issue's estimate just before the load.
    rows = harness.query(
        "select l.destination_issue_id, any_value(i.remaining_estimate_seconds), sum(r.time_spent_seconds)"
        " from sync.worklog_links l join replica.worklogs r using (tempo_worklog_id)"
        " join directory.issues i on i.site = 'destination' and i.issue_id = l.destination_issue_id"
        " where l.state = 'created' group by 1"
    )
    assert len(rows) > 10
    with harness.jira("destination") as jira:
        jql = f"id in ({', '.join(str(issue_id) for issue_id, _, _ in rows)})"
        answer = jira.get(
            "/rest/api/3/search/jql", params={"jql": jql, "fields": "timeestimate", "maxResults": 100}
        )
        answer.raise_for_status()
    after = {int(issue["id"]): issue["fields"]["timeestimate"] for issue in answer.json()["issues"]}
    for issue_id, before, logged in rows:
        if before is not None:
            assert after[issue_id] == max(before - logged, 0)
    with harness.sandbox.admin() as admin:
        creates = admin.count("destination", "tempo", "POST /4/worklogs/issue/{issueId}/bulk") + admin.count(
            "destination", "tempo", "POST /4/worklogs"
        )
    assert creates == len(rows)  # every issue had at most 50 new worklogs
