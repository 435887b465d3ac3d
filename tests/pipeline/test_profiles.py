"""Exactly once under every reading the documents leave open.

The sandbox's profile switches (docs/sandbox.md, "Profiles") each give one plausible reading of a
behaviour the official documents do not settle: a start time read back or omitted, descriptions
trimmed, a billable defaulted or omitted, a bulk call with bad items applied in part, permission
roles refused, Tempo's permission keys unknown to Jira, JQL dropping missing keys, ``started`` at
UTC, worklog properties dropped, errors as one object. Under each switch, and under all of them at
once, the sync runs with a third of the destination's create answers lost, until a run succeeds,
then again: every eligible worklog has exactly one copy with its fields, and nothing else is made.
The fast form runs the defaults and every switch at once; each switch alone is the full form.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cli.main import main
from sandbox.config import Faults, Profile
from tests.pipeline.conftest import HarnessFactory
from tests.support.exactly_once import assert_exactly_once
from tests.support.sync import SyncHarness, created_by

DAY = date(2025, 3, 5)
NEXT_DAY = date(2025, 3, 6)
# Switches that can only matter to one kind of destination: Tempo writes, or Jira worklogs.
TEMPO_WRITES = {"missing_start_time", "description_whitespace", "billable", "bulk_with_bad_items"}
JIRA_WORKLOGS = {"jira_started", "worklog_properties"}
WITH_OTHER_READINGS = {
    "bulk_with_bad_items": "applied_then_400",
    "tempo_error_shape": "object",
    "description_whitespace": "trimmed",
    "missing_start_time": "omitted",
    "billable": "omitted",
}


def _cases() -> list[Any]:
    cases = []
    for destination_tempo, irrelevant in ((True, JIRA_WORKLOGS), (False, TEMPO_WRITES)):
        kind = "tempo" if destination_tempo else "jira"
        relevant = {name: values for name, values in Profile.choices().items() if name not in irrelevant}
        cases.append(pytest.param(destination_tempo, {}, id=f"{kind}-defaults"))
        for name, values in relevant.items():
            cases += [
                pytest.param(
                    destination_tempo, {name: value}, marks=pytest.mark.full, id=f"{kind}-{name}={value}"
                )
                for value in values[1:]
            ]
        every_other = {name: values[-1] for name, values in relevant.items()}
        cases.append(pytest.param(destination_tempo, every_other, id=f"{kind}-every-other-reading"))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize(("destination_tempo", "switches"), _cases())
def test_lost_answers_and_reruns_leave_exactly_one_copy_with_its_fields_under_every_reading(
    make_harness: HarnessFactory, destination_tempo: bool, switches: dict[str, str]
) -> None:
    service = "tempo" if destination_tempo else "jira"
    faults = Faults(share_lost_post=0.35, targets=(f"destination/{service}",), seed=11)
    harness = make_harness(profile=Profile(**switches), destination_tempo=destination_tempo, faults=faults)
    harness.run_until_success(DAY)
    rerun = harness.run(DAY)  # still losing answers
    assert rerun.success
    assert created_by(rerun) == 0
    with harness.sandbox.admin() as admin:
        assert admin.stats()["faults"].get("lost_response", 0) > 0
    assert harness.scalar("select count(*) from sync.events where event = 'unknown_outcome'") > 0
    assert assert_exactly_once(harness, DAY, DAY) > 20


def _deactivate_every_other_author(harness: SyncHarness) -> list[dict[str, Any]]:
    """Deactivate, on the destination, half the authors tempo-sync has cached as active: the next
    bulk calls mix their worklogs (refused) with others' (valid). Returns the accounts as they were."""
    cached = sorted(
        account
        for (account,) in harness.query(
            "select distinct destination_author_account_id from replica.worklogs where status = 'ready'"
        )
    )
    with harness.sandbox.admin() as admin:
        accounts = [a for a in admin.accounts("destination") if a["account_id"] in cached[::2]]
        for account in accounts:
            admin.put_user("destination", **{**account, "active": False})
    return accounts


@pytest.mark.slow
@pytest.mark.parametrize(
    "switches",
    [
        pytest.param({}, id="refused-whole"),
        pytest.param(
            {"bulk_with_bad_items": "applied_then_400"}, marks=pytest.mark.full, id="applied-then-400"
        ),
        pytest.param(
            {"bulk_with_bad_items": "applied_then_200"}, marks=pytest.mark.full, id="applied-then-200"
        ),
        pytest.param(WITH_OTHER_READINGS, id="with-other-readings"),
    ],
)
def test_a_bulk_call_with_refused_items_doubles_and_loses_nothing_however_it_is_applied(
    make_harness: HarnessFactory, capsys: pytest.CaptureFixture[str], switches: dict[str, str]
) -> None:
    faults = Faults(share_lost_post=0.2, targets=("destination/tempo",), seed=5)
    harness = make_harness(profile=Profile(**switches), faults=faults)
    harness.run_until_success(DAY)
    accounts = _deactivate_every_other_author(harness)
    assert accounts
    harness.run_until_success(NEXT_DAY)
    refused = dict(
        harness.query(
            "select r.destination_author_account_id, count(*) from sync.worklog_links l"
            " join replica.worklogs r using (tempo_worklog_id) where l.state = 'rejected' group by 1"
        )
    )
    assert set(refused) <= {a["account_id"] for a in accounts}
    assert refused
    # Some bulk calls held both refused and valid worklogs; none of the valid ones was sent twice.
    assert harness.scalar(
        "select count(*) from sync.events where event = 'bulk_refused'"
        " or (event = 'unknown_outcome' and detail like '%answered the create without%')"
    )
    with harness.sandbox.admin() as admin:
        made = len([w for w in admin.changed_worklogs("destination") if not w["deleted"]])
        for account in accounts:
            admin.put_user("destination", **account)
    assert made == harness.scalar("select count(*) from sync.worklog_links where state = 'created'")

    assert main(["retry"]) == 0
    capsys.readouterr()
    harness.run_until_success(NEXT_DAY)
    assert harness.run(DAY, NEXT_DAY).success
    assert assert_exactly_once(harness, DAY, NEXT_DAY) > 40
