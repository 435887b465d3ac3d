"""The policy file end to end: issue mapping strategies, author overrides, the opt-in fallback."""

from __future__ import annotations

from datetime import date

import pytest

DAY = date(2025, 3, 5)


def _scenario_ids(harness, name: str) -> list[int]:
    with harness.sandbox.admin() as admin:
        return [s["tempo_id"] for s in admin.scenarios("source", DAY, DAY) if s["scenario"] == name]


@pytest.mark.parametrize(
    ("policy", "rule"),
    [
        ('[issues]\nstrategy = "project_map"\n[issues.projects]\nCLI = "CLIENT"\n', "project_map"),
        ('[issues]\nstrategy = "field"\nfield = "customfield_10100"\n', "field"),
    ],
)
def test_a_renamed_project_syncs_under_a_mapping_strategy(make_harness, policy, rule):
    harness = make_harness(policy)
    assert harness.run(DAY).success
    (renamed,) = _scenario_ids(harness, "issue_project_renamed")
    row = harness.query(
        "select r.status, r.issue_rule, r.source_issue_key, r.destination_issue_key, l.state"
        " from replica.worklogs r left join sync.worklog_links l using (tempo_worklog_id)"
        " where tempo_worklog_id = ?",
        [renamed],
    )[0]
    assert row[:2] == ("ready", rule)
    assert row[2].startswith("CLI-")
    assert row[3] == "CLIENT-" + row[2].removeprefix("CLI-")
    assert row[4] == "created"
    (missing,) = _scenario_ids(harness, "issue_missing_on_destination")
    assert harness.query(
        "select status, park_reason from replica.worklogs where tempo_worklog_id = ?", [missing]
    ) == [("parked", "issue_unmapped")]


def test_the_issue_table_wins_and_a_parked_row_syncs_once_mapped(harness):
    assert harness.run(DAY).success
    (missing,) = _scenario_ids(harness, "issue_missing_on_destination")
    key = harness.scalar(
        "select source_issue_key from replica.worklogs where tempo_worklog_id = ?", [missing]
    )
    harness.set_policy(f'[issues.table]\n"{key}" = "INT-2"\n')
    assert harness.run(DAY).success
    assert harness.query(
        "select r.issue_rule, r.destination_issue_key, l.state from replica.worklogs r"
        " join sync.worklog_links l using (tempo_worklog_id) where tempo_worklog_id = ?",
        [missing],
    ) == [("table", "INT-2", "created")]


def test_an_override_resolves_an_author_whose_email_is_hidden(harness):
    with harness.sandbox.admin() as admin:
        person = next(p for p in admin.people() if p["kind"] == "email_hidden_on_source")
    source_id, destination_id = person["source"]["account_id"], person["destination"]["account_id"]
    harness.set_policy(f'[authors.overrides]\n"{source_id}" = "{destination_id}"\n')
    assert harness.run(DAY).success
    rows = harness.query(
        "select r.author_rule, r.destination_author_account_id, l.state from replica.worklogs r"
        " join sync.worklog_links l using (tempo_worklog_id) where r.source_author_account_id = ?",
        [person["source"]["account_id"]],
    )
    assert rows
    assert set(rows) == {("override", person["destination"]["account_id"], "created")}


def test_without_the_opt_in_nobody_is_substituted_and_with_it_the_real_author_is_named(harness):
    assert harness.run(DAY).success
    parked_authors = harness.scalar(
        "select count(*) from replica.worklogs where park_reason <> 'issue_unmapped'"
    )
    assert parked_authors > 0
    assert harness.scalar("select count(*) from replica.worklogs where author_rule = 'fallback'") == 0
    with harness.sandbox.admin() as admin:
        staff = next(a for a in admin.accounts("destination") if a["display_name"] != "Tempo Sync"
                     and a["account_type"] == "atlassian" and a["active"]
                     and not any(p["destination"] and p["destination"]["account_id"] == a["account_id"]
                                 for p in admin.people()))  # fmt: skip
    harness.set_policy(f'[authors]\nfallback_account_id = "{staff["account_id"]}"\n')
    assert harness.run(DAY).success
    rows = harness.query(
        "select r.park_detail, r.description, r.source_author_name, r.source_author_account_id, l.state"
        " from replica.worklogs r join sync.worklog_links l using (tempo_worklog_id)"
        " where r.author_rule = 'fallback' and r.destination_author_account_id = ?",
        [staff["account_id"]],
    )
    assert len(rows) == parked_authors
    for detail, description, name, account_id, state in rows:
        assert state == "created"
        assert detail.startswith("unresolved: ")
        assert description.endswith(f"Work by {name or account_id} (logged for them by tempo-sync).")
