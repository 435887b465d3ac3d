"""The generated world: deterministic, and every awkward case present on every day."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from sandbox.config import DataKnobs
from sandbox.timefmt import parse_iso_z
from sandbox.world import EXPECTED_OUTCOME, SOURCE_SCENARIOS, PersonKind, World, generated_day

DAY = date(2025, 3, 10)


@pytest.fixture(scope="module")
def world() -> World:
    return World(DataKnobs())


def person(world: World, kind: PersonKind):
    return next(p for p in world.people if p.kind is kind)


def test_same_seed_same_world_and_other_seed_another():
    first, second = World(DataKnobs(seed=11)), World(DataKnobs(seed=11))
    assert first.worklogs_on("source", DAY) == second.worklogs_on("source", DAY)
    assert first.people == second.people
    other = World(DataKnobs(seed=12))
    assert other.worklogs_on("source", DAY) != first.worklogs_on("source", DAY)


def test_a_day_does_not_depend_on_which_days_were_generated_before():
    fresh = World(DataKnobs())
    warmed = World(DataKnobs())
    for offset in range(5):
        warmed.worklogs_on("source", DAY - timedelta(days=offset + 1))
    assert fresh.worklogs_on("source", DAY) == warmed.worklogs_on("source", DAY)


def test_every_day_holds_each_awkward_case_once(world: World):
    for offset in range(3):
        scenarios = Counter(w.scenario for w in world.worklogs_on("source", DAY + timedelta(days=offset)))
        assert all(scenarios[name] == 1 for name in SOURCE_SCENARIOS)
        assert scenarios["normal"] == DataKnobs().worklogs_per_day - len(SOURCE_SCENARIOS)
    assert set(SOURCE_SCENARIOS) | {"normal"} == set(EXPECTED_OUTCOME)


def test_volume_knobs():
    world = World(DataKnobs(users=20, issues=35, worklogs_per_day=6001, destination_worklogs_per_day=0))
    assert len(world.people) == 20
    assert len(world.issues("source")) == 35
    assert len(world.worklogs_on("source", DAY)) == 6001
    assert world.worklogs_on("destination", DAY) == ()
    assert world.worklogs_on("source", DataKnobs().first_day - timedelta(days=1)) == ()


def test_knobs_are_checked():
    with pytest.raises(ValueError, match="users must be between 14"):
        World(DataKnobs(users=3))
    with pytest.raises(ValueError, match="worklogs_per_day"):
        World(DataKnobs(worklogs_per_day=-1))


def test_ids_encode_the_work_date_and_differ_between_tempo_and_jira(world: World):
    worklogs = world.worklogs_on("source", DAY)
    assert len({w.tempo_id for w in worklogs}) == len(worklogs)
    for worklog in worklogs[:5]:
        assert generated_day(worklog.tempo_id) == DAY
        assert worklog.jira_id != worklog.tempo_id
        assert world.worklog("source", worklog.tempo_id) == worklog
        assert world.worklog_by_jira_id("source", worklog.jira_id) == worklog
    assert generated_day(1_500) is None  # ids clients created carry no date


def test_identity_cases(world: World):
    case = person(world, PersonKind.EMAIL_CASE)
    assert case.source.email != case.destination.email
    assert case.source.email.lower() == case.destination.email
    assert case.source.account_id != case.destination.account_id

    prefix = person(world, PersonKind.EMAIL_PREFIX)
    emails = [a.email for a in world.accounts("destination") if a.email]
    longer = [e for e in emails if e != prefix.source.email and e.startswith(prefix.source.email)]
    assert longer, "another destination address starts with this person's address"

    hidden = person(world, PersonKind.EMAIL_HIDDEN_ON_SOURCE)
    assert not hidden.source.email_visible
    assert hidden.destination.email_visible

    assert person(world, PersonKind.MISSING_ON_DESTINATION).destination is None
    assert not person(world, PersonKind.INACTIVE_ON_DESTINATION).destination.active
    assert not person(world, PersonKind.INACTIVE_ON_SOURCE).source.active
    deleted = person(world, PersonKind.DELETED_ON_SOURCE)
    assert world.account("source", deleted.source.account_id) is None
    assert person(world, PersonKind.APP_ACCOUNT).source.account_type == "app"

    customer = person(world, PersonKind.CUSTOMER_ON_DESTINATION)
    same_email = [
        a for a in world.accounts("destination") if (a.email or "").lower() == customer.source.email.lower()
    ]
    assert [a.account_type for a in same_email] == ["customer"]

    ambiguous = person(world, PersonKind.AMBIGUOUS_ON_DESTINATION)
    twins = [
        a for a in world.accounts("destination") if (a.email or "").lower() == ambiguous.source.email.lower()
    ]
    assert len(twins) == 2
    assert all(a.account_type == "atlassian" and a.active for a in twins)


def test_service_account_and_integration_user(world: World):
    for site in ("source", "destination"):
        assert world.service_account(site).account_type == "app"
        assert world.integration_user(site).email == f"tempo-sync@{site}.example.com"
    worklog = world.worklogs_on("source", DAY)[0]
    assert worklog.jira_author_account_id == world.service_account("source").account_id


def test_issues_on_both_sites(world: World):
    source = {i.key: i for i in world.issues("source")}
    destination = {i.key: i for i in world.issues("destination")}
    missing = [i for i in source.values() if i.kind == "missing_on_destination"]
    assert missing
    assert all(i.key not in destination for i in missing)
    common = [i for i in source.values() if i.kind == "common"]
    assert all(destination[i.key].id != i.id for i in common)
    renamed = next(i for i in source.values() if i.kind == "project_renamed")
    assert renamed.key.startswith("CLI-")
    twin = next(i for i in destination.values() if i.source_key == renamed.key)
    assert twin.key == renamed.key.replace("CLI-", "CLIENT-")


def test_worklog_shapes(world: World):
    by_scenario = {w.scenario: w for w in world.worklogs_on("source", DAY)}
    assert by_scenario["no_start_time"].start_time is None
    assert by_scenario["no_description"].description is None
    padded = by_scenario["padded_description"].description
    assert padded != padded.strip()
    assert padded[0].isspace()
    assert padded[-1].isspace()
    assert " " in padded.strip()
    assert len(by_scenario["long_description"].description) == 10_000
    assert any(ord(ch) > 127 for ch in by_scenario["unicode_description"].description)
    assert by_scenario["start_near_midnight"].start_time >= "23:30:00"
    assert by_scenario["start_after_midnight"].start_time < "00:21:00"
    differs = by_scenario["billable_differs"]
    assert differs.billable != differs.time_spent
    assert {key for key, _ in by_scenario["work_attributes"].attributes} >= {"_Activity_", "_ExternalRef_"}
    late = by_scenario["late_worklog"]
    assert (parse_iso_z(late.created_at).date() - DAY).days >= 2
    edited = by_scenario["edited_after_creation"]
    assert edited.updated_at > edited.created_at
    assert all(w.time_spent > 0 for w in by_scenario.values())
