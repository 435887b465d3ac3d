"""Worklogs the load cannot confirm: never sent again by a run, shown by ``status``, ``trace`` and a
check, and settled by a person with ``tempo-sync settle``."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cli.main import main
from sandbox.config import Faults
from tests.support.sync import SyncHarness

DAY = date(2025, 3, 5)


def _edit_description(harness: SyncHarness, worklog: dict[str, Any], description: str) -> None:
    """A person on the destination rewrites a copy's description (Tempo's PUT replaces it whole)."""
    body = {
        "authorAccountId": worklog["author_account_id"],
        "startDate": worklog["start_date"],
        "startTime": worklog["start_time"],
        "timeSpentSeconds": worklog["time_spent"],
        "billableSeconds": worklog["billable"],
        "description": description,
    }
    with harness.tempo("destination") as tempo:
        tempo.put(f"/4/worklogs/{worklog['tempo_id']}", json=body).raise_for_status()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    output = capsys.readouterr()
    return status, output.out, output.err


def test_a_copy_changed_on_the_destination_before_the_rerun_is_unconfirmed_until_a_person_settles_it(
    make_harness, capsys
):
    # Every create's answer is lost, and so is every read that would reconcile them: the first run
    # ends with its worklogs applied on the destination but pending in the ledger.
    harness = make_harness(faults=Faults(share_lost_post=1.0, targets=("destination/tempo",)))
    assert not harness.run(DAY, raise_on_error=False).success
    with harness.sandbox.admin() as admin:
        admin.set_faults()
        copies = admin.changed_worklogs("destination")
    pending = dict(harness.query("select tempo_worklog_id, state from sync.worklog_links"))
    assert copies
    assert set(pending.values()) == {"pending"}
    # Before the rerun, someone rewrites two copies: they no longer read as the rows' copies.
    edited = sorted(copies, key=lambda w: w["tempo_id"])[:2]
    for worklog in edited:
        _edit_description(harness, worklog, "Rewritten on the destination")

    second = harness.run(DAY, raise_on_error=False)
    assert not second.success
    (failure,) = [e for e in second.all_events if e.is_step_failure]
    message = failure.event_specific_data.error.message  # type: ignore[union-attr]
    unconfirmed = dict(
        harness.query(
            "select tempo_worklog_id, candidates from sync.worklog_links where state = 'unconfirmed'"
        )
    )
    assert sorted(c for candidates in unconfirmed.values() for c in candidates) == [
        w["tempo_id"] for w in edited
    ]
    assert "2 worklog(s) are unconfirmed" in message
    assert all(str(tempo_id) in message for tempo_id in unconfirmed)
    # Everything else was adopted or sent (the first run stopped before some issues); nothing twice.
    states = dict(harness.query("select state, count(*) from sync.worklog_links group by 1"))
    synced = states["created"] + states["unconfirmed"]
    assert states["unconfirmed"] == 2
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) == synced

    # The author edits one of them on the source: what may have been sent stays as it was (frozen).
    first_id, second_id = sorted(unconfirmed)
    sent = harness.scalar("select description from replica.worklogs where tempo_worklog_id = ?", [first_id])
    with harness.tempo("source") as tempo:
        original = tempo.get(f"/4/worklogs/{first_id}").json()
        edit = {
            "authorAccountId": original["author"]["accountId"],
            "startDate": original["startDate"],
            "startTime": original.get("startTime"),
            "timeSpentSeconds": original["timeSpentSeconds"],
            "description": "Edited on the source after the send",
        }
        tempo.put(f"/4/worklogs/{first_id}", json=edit).raise_for_status()

    # A third run sends nothing for them and still fails, naming them.
    third = harness.run(DAY, raise_on_error=False)
    assert not third.success
    assert third.asset_materializations_for_node("destination_worklogs") == []
    assert (
        harness.scalar("select description from replica.worklogs where tempo_worklog_id = ?", [first_id])
        == sent
    )

    status, out, _ = _cli(capsys, "status")
    assert status == 0
    assert "unconfirmed worklogs: 2" in out
    copy_of_first = unconfirmed[first_id][0]
    status, out, _ = _cli(capsys, "trace", str(copy_of_first))
    assert status == 0
    assert "possible destination copy" in out
    assert f"tempo-sync settle {first_id} --adopt DESTINATION_ID" in out

    # The person decides: the first is its copy after all; the second's candidate is not a copy.
    assert _cli(capsys, "settle", str(first_id), "--adopt", str(copy_of_first))[0] == 0
    refused = _cli(capsys, "settle", str(second_id), "--adopt", str(copy_of_first))
    assert refused[0] == 1
    assert "not unconfirmed" in refused[2] or "already the copy" in refused[2]
    assert _cli(capsys, "settle", str(second_id), "--resend")[0] == 0
    assert _cli(capsys, "settle", str(second_id), "--resend")[0] == 1  # settled once is enough

    fourth = harness.run(DAY)
    assert fourth.success
    assert fourth.asset_materializations_for_node("destination_worklogs")[0].metadata["created"].value == 1
    assert dict(harness.query("select state, count(*) from sync.worklog_links group by 1")) == {
        "created": synced
    }
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) == synced + 1  # the one resent
    linked = harness.scalar(
        "select destination_tempo_worklog_id from sync.worklog_links where tempo_worklog_id = ?", [first_id]
    )
    assert linked == copy_of_first
    events = [row[0] for row in harness.query(
        "select detail from sync.events where tempo_worklog_id = ? and event = 'settled'", [second_id]
    )]  # fmt: skip
    assert events == ["a person allowed one more send"]
    status, out, _ = _cli(capsys, "status")
    assert "unconfirmed worklogs: none" in out
