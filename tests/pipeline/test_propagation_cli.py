"""What the command line says of the propagation of edits and deletions: ``tempo-sync run
--dry-run``, the run table's propagation columns, ``trace``'s history and ``status``'s counts.

Real runs against a test sandbox over HTTP, through ``main`` in this process. The source changes
through its own Tempo API, as a person's edit in Tempo reaches it; a third party changes a copy
through the destination's Tempo API. What the destination received is read from the sandbox's
request counters and its own API, and what the DuckDB file holds is read apart from the commands.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import date
from typing import Any

import pytest

from cli.main import main
from sandbox.admin_client import SandboxAdmin
from tests.support.sync import SyncHarness

DAY = date(2025, 3, 5)
NEXT_DAY = date(2025, 3, 6)
UPDATES = "[propagate]\nupdates = true\n"
DELETES = "[propagate]\ndeletes = true\n"
# Jira's deleted-worklog feed leaves out its last minute; the sandbox clock moves past it.
PAST_THE_FEED_LAG = 120
# The destination's searches that take their query in a POST body: reads, not writes.
SEARCHES = {"POST /rest/api/3/search/jql", "POST /4/worklogs/search"}
# Today's run table, word for word: with [propagate] off it must not change.
TODAYS_HEADER = ["work date", "extracted", "created", "already synced", "rejected", "quarantined", "pending",
                 "unconfirmed", "parked", "parked by reason"]  # fmt: skip
DRY_RUN_HEADER = ["work date", "extracted", "already synced", "would create", "would update", "would move",
                  "would delete", "parked", "parked by reason"]  # fmt: skip
NOTHING_WRITTEN = "tempo-sync: dry run: nothing was written to the destination"
CHANGED_THERE = "the copy was changed on the destination since tempo-sync wrote it"


def _run(capsys: pytest.CaptureFixture[str], first: date, last: date, *options: str) -> tuple[int, str]:
    """``tempo-sync run`` over the dates, in this process: its exit status and stdout."""
    status = main(["run", "--from", first.isoformat(), "--to", last.isoformat(), *options])
    return status, capsys.readouterr().out


def _cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def _table(out: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The run table's header, and each line (the days and the total) by its first cell."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("work date"))
    header = _cells(lines[start])
    rows = {}
    for line in lines[start + 2 :]:
        if not re.match(r"\d{4}-\d\d-\d\d |total ", line):
            if line.startswith("-"):
                continue
            break
        rows[_cells(line)[0]] = dict(zip(header, _cells(line), strict=False))
    return header, rows


def _source_edit(harness: SyncHarness, tempo_id: int, **changes: Any) -> None:
    """Edit a source worklog through the source's Tempo API (a ``WorklogUpdate`` of every field)."""
    _put(harness, "source", tempo_id, **changes)


def _copy_edit(harness: SyncHarness, copy_id: int, **changes: Any) -> None:
    """Someone edits a copy on the destination, through its Tempo API."""
    _put(harness, "destination", copy_id, **changes)


def _put(harness: SyncHarness, site: str, worklog_id: int, **changes: Any) -> None:
    with harness.tempo(site) as tempo:
        worklog = tempo.get(f"/4/worklogs/{worklog_id}").raise_for_status().json()
        body = {
            "authorAccountId": worklog["author"]["accountId"],
            "startDate": worklog["startDate"],
            "startTime": worklog.get("startTime", "00:00:00"),
            "timeSpentSeconds": worklog["timeSpentSeconds"],
            "billableSeconds": worklog.get("billableSeconds", worklog["timeSpentSeconds"]),
            "description": worklog.get("description", ""),
            "attributes": worklog["attributes"]["values"],
            **changes,
        }
        tempo.put(f"/4/worklogs/{worklog_id}", json=body).raise_for_status()


def _copy(harness: SyncHarness, copy_id: int) -> dict[str, Any]:
    with harness.tempo("destination") as tempo:
        return tempo.get(f"/4/worklogs/{copy_id}").raise_for_status().json()


def _synced(harness: SyncHarness) -> list[tuple[int, int]]:
    """(source Tempo id, destination Tempo id) of every synced worklog of DAY."""
    return [
        (tempo_id, copy_id)
        for tempo_id, copy_id in harness.query(
            "select l.tempo_worklog_id, l.destination_tempo_worklog_id from sync.worklog_links l"
            " join replica.worklogs r using (tempo_worklog_id)"
            " where l.state = 'created' and r.work_date = ? order by 1",
            [DAY],
        )
    ]


def _writes(admin: SandboxAdmin) -> list[str]:
    """Every request to the destination that could change it: a PUT, a DELETE, a POST but a search."""
    return [
        row["endpoint"]
        for row in admin.stats()["requests"]
        if row["site"] == "destination"
        and row["endpoint"].split()[0] in ("POST", "PUT", "DELETE")
        and row["endpoint"] not in SEARCHES
    ]


def _ledger(harness: SyncHarness) -> list[tuple[Any, ...]]:
    return harness.query("select * from sync.worklog_links order by tempo_worklog_id")


def _ready_unsent(harness: SyncHarness, day: date) -> int:
    """Ready worklogs of the day that the ledger has not created: what a run would create."""
    return harness.scalar(
        "select count(*) from replica.worklogs r left join sync.worklog_links l using (tempo_worklog_id)"
        " where r.status = 'ready' and r.work_date = ? and l.tempo_worklog_id is null",
        [day],
    )


def _parked(harness: SyncHarness, day: date) -> int:
    return harness.scalar(
        "select count(*) from replica.worklogs where status = 'parked' and work_date = ?", [day]
    )


def test_a_dry_run_on_a_fresh_file_prints_the_first_syncs_plan_and_writes_nothing(
    harness: SyncHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    with harness.sandbox.admin() as admin:
        status, out = _run(capsys, DAY, NEXT_DAY, "--dry-run", "--quiet")
        assert status == 0
        assert _writes(admin) == []
        assert admin.changed_worklogs("destination") == []
    header, rows = _table(out)
    assert header == DRY_RUN_HEADER
    for day in (DAY, NEXT_DAY):
        row = rows[day.isoformat()]
        assert int(row["would create"]) == _ready_unsent(harness, day) > 20
        assert int(row["parked"]) == _parked(harness, day) > 0
        assert int(row["extracted"]) == harness.scalar(
            "select count(*) from raw.source_worklogs where work_date = ?", [day]
        )
        assert [row[name] for name in ("already synced", "would update", "would move", "would delete")] == [
            "0"
        ] * 4
    assert int(rows["total"]["would create"]) == sum(_ready_unsent(harness, day) for day in (DAY, NEXT_DAY))
    run_id = harness.scalar("select run_id from lineage.runs")
    assert out.splitlines()[-2:] == [NOTHING_WRITTEN, f"tempo-sync: run {run_id} succeeded"]
    assert harness.scalar("select count(*) from sync.worklog_links") == 0, "no claim either"
    assert harness.scalar("select count(*) from sync.events") == 0

    with harness.sandbox.admin() as admin:
        status, out = _run(capsys, DAY, DAY, "--dry-run", "--json")
        assert status == 0
        assert _writes(admin) == []
    document = json.loads(out)
    assert document["dry_run"] is True
    assert document["status"] == "succeeded"
    (day,) = document["days"]
    assert day["would_create"] == _ready_unsent(harness, DAY)
    assert (day["created"], day["would_update"], day["would_move"], day["would_delete"]) == (0, 0, 0, 0)
    assert day["deletes_blocked"] == 0
    assert day["parked"] == _parked(harness, DAY)
    assert document["totals"]["would_create"] == day["would_create"]
    assert harness.scalar("select count(*) from sync.worklog_links") == 0


@pytest.mark.full  # the fast form: the dry run of a first sync, above
def test_a_dry_run_after_source_edits_shows_the_update_and_the_move_and_changes_nothing(
    make_harness: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    harness = make_harness(UPDATES)
    assert harness.run(DAY).success
    (edited, edited_copy), (moved, _), *_ = _synced(harness)
    _source_edit(harness, edited, description="edited on the source", timeSpentSeconds=4500)
    _source_edit(harness, moved, startDate=NEXT_DAY.isoformat())
    ledger = _ledger(harness)
    events = harness.scalar("select count(*) from sync.events")
    with harness.sandbox.admin() as admin:
        created = admin.changed_worklogs("destination")
        admin.reset_stats()
        status, out = _run(capsys, DAY, NEXT_DAY, "--dry-run", "--quiet")
        assert status == 0
        assert _writes(admin) == []
        assert admin.changed_worklogs("destination") == created
    _, rows = _table(out)
    day, next_day = rows[DAY.isoformat()], rows[NEXT_DAY.isoformat()]
    assert (day["would update"], day["would move"], day["would create"]) == ("1", "0", "0")
    # A move is carried by the run of its new date.
    assert (next_day["would update"], next_day["would move"]) == ("0", "1")
    assert int(next_day["would create"]) == _ready_unsent(harness, NEXT_DAY)
    assert NOTHING_WRITTEN in out
    assert _ledger(harness) == ledger
    assert harness.scalar("select count(*) from sync.events") == events
    copy = _copy(harness, edited_copy)
    assert (copy["description"], copy["timeSpentSeconds"]) != ("edited on the source", 4500)


def test_the_run_table_shows_updated_deleted_and_conflicts_only_with_propagation_on(
    harness: SyncHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = _run(capsys, DAY, DAY, "--quiet")
    assert status == 0
    assert _table(out)[0] == TODAYS_HEADER  # (--json carries the figures anyway: tests/cli)

    harness.set_policy(UPDATES)
    (edited, edited_copy), (moved, moved_copy), (conflicted, conflicted_copy), *_ = _synced(harness)
    _source_edit(harness, edited, description="edited on the source")
    _source_edit(harness, moved, startDate=NEXT_DAY.isoformat())
    _copy_edit(harness, conflicted_copy, description="fixed by hand on the destination")
    _source_edit(harness, conflicted, description="edited on the source too")
    status, out = _run(capsys, DAY, NEXT_DAY, "--quiet")
    assert status == 0
    header, rows = _table(out)
    propagated = ("updated", "deleted", "conflicts")
    assert header == [*TODAYS_HEADER[:-2], *propagated, *TODAYS_HEADER[-2:]]
    day, next_day = rows[DAY.isoformat()], rows[NEXT_DAY.isoformat()]
    assert [day[name] for name in propagated] == ["1", "0", "1"]
    # A move counts as an update, on its new date (whose run carried it).
    assert [next_day[name] for name in propagated] == ["1", "0", "0"]
    assert "destination_changed 1" in day["parked by reason"]
    assert _copy(harness, edited_copy)["description"] == "edited on the source"
    assert _copy(harness, moved_copy)["startDate"] == NEXT_DAY.isoformat()
    assert _copy(harness, conflicted_copy)["description"] == "fixed by hand on the destination"
    # Each synced worklog counts once: the conflict is parked, not already synced.
    synced = harness.scalar(
        "select count(*) from sync.worklog_links l join replica.worklogs r using (tempo_worklog_id)"
        " where l.state = 'created' and r.status = 'ready' and r.work_date = ?",
        [DAY],
    )
    assert int(day["already synced"]) == synced

    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["propagation"] == {
        "conflicts": 1,
        "changes_refused": 0,
        "changes_in_flight": 0,
        "deleted_copies": 0,
        "source_deletions_not_carried": 0,
    }
    assert main(["status"]) == 0
    shown = dict(map(_cells, _block(capsys.readouterr().out, "edits and deletions")[1:]))
    assert shown == {
        "conflicts (parked destination_changed)": "1",
        "changes the destination refused": "0",
        "changes in flight": "0",
        "deleted copies": "0",
        "source deletions confirmed, not carried yet": "0",
    }


def test_trace_shows_every_version_sent_and_the_conflict_and_its_end_with_the_run_of_each(
    make_harness: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    harness = make_harness(UPDATES)
    first = harness.run(DAY)
    tempo_id, copy_id, description, spent = harness.query(
        "select l.tempo_worklog_id, l.destination_tempo_worklog_id, r.description, r.time_spent_seconds"
        " from sync.worklog_links l join replica.worklogs r using (tempo_worklog_id)"
        " where l.state = 'created' and length(r.description) between 1 and 60 order by 1 limit 1"
    )[0]
    _source_edit(harness, tempo_id, description="edited on the source", timeSpentSeconds=5400)
    update = harness.run(DAY)
    _copy_edit(harness, copy_id, description="fixed by hand on the destination")
    _source_edit(harness, tempo_id, description="edited again")
    conflict = harness.run(DAY)
    assert main(["trace", str(copy_id)]) == 0
    in_conflict = capsys.readouterr().out
    # The source goes back to what tempo-sync wrote: nothing waits to be carried, the conflict ends.
    _source_edit(harness, tempo_id, description="edited on the source")
    cleared = harness.run(DAY)
    assert all(result.success for result in (first, update, conflict, cleared))

    ledger = dict(_cells(line) for line in _block(in_conflict, "ledger")[1:])
    assert ledger["state"] == "created"
    assert ledger["conflict"].startswith(CHANGED_THERE)
    assert main(["trace", str(copy_id)]) == 0
    out = capsys.readouterr().out
    history = _block(out, "history:")
    assert history[0] == "history: what was written to the destination, oldest first"
    heads = [_cells(line)[1:3] for line in history[1:] if not line.startswith("    ")]
    assert heads == [
        ["created", f"run {first.run_id[:8]}: destination worklog {copy_id}"],
        ["updated", f"run {update.run_id[:8]}: applied: time_spent_seconds, description changed"],
        ["conflict", f"run {conflict.run_id[:8]}: {CHANGED_THERE}"],
        ["conflict_cleared", f"run {cleared.run_id[:8]}: the source is back to what tempo-sync wrote; nothing"
                             " waits to be carried"],
    ]  # fmt: skip
    fields = _history_fields(history)
    quoted = json.dumps(description, ensure_ascii=False)
    assert fields["created"]["description"] == quoted
    assert fields["created"]["time spent"].startswith(f"{spent} s (")
    assert list(fields["updated"]) == ["time spent", "description"]
    assert re.fullmatch(rf"{spent} s \(\d+h\d\dm\) → 5400 s \(1h30m\)", fields["updated"]["time spent"])
    assert fields["updated"]["description"] == f'{quoted} → "edited on the source"'
    assert fields["conflict"] == {
        "what tempo-sync wrote → the copy as found": "",
        "description": '"edited on the source" → "fixed by hand on the destination"',
    }
    assert "conflict" not in dict(_cells(line) for line in _block(out, "ledger")[1:])
    runs = {cells[0]: cells[-1] for cells in map(_cells, _block(out, "runs involved")[3:])}
    assert "updated" in runs[update.run_id]
    assert "conflict" in runs[conflict.run_id]


@pytest.mark.full  # the default suite's trace and dry-run tests cover the same code in a fast form
def test_status_and_trace_show_a_change_between_its_send_and_its_record(
    make_harness: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    harness = make_harness(UPDATES)
    assert harness.run(DAY).success
    (edited, _), *_ = _synced(harness)
    _source_edit(harness, edited, description="edited on the source")
    with harness.sandbox.admin() as admin:
        # The PUT is applied and its answer held: the ledger says the change was sent.
        admin.hold("destination", "tempo", "PUT /4/worklogs/{id}", when="after")
        run = threading.Thread(target=harness.run, args=(DAY,))
        run.start()
        try:
            _wait_until(lambda: any(hold["waiting"] for hold in admin.holds()))
            assert main(["status", "--json"]) == 0
            during = json.loads(capsys.readouterr().out)["propagation"]
            assert main(["trace", str(edited)]) == 0
            ledger = dict(_cells(line) for line in _block(capsys.readouterr().out, "ledger")[1:])
        finally:
            admin.release_holds()
            run.join(timeout=120)
    assert during["changes_in_flight"] == 1
    run_id = harness.scalar("select run_id from lineage.runs order by started_at desc limit 1")
    assert ledger["change in flight"].startswith(f"update, sent by run {run_id[:8]} at ")
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["propagation"]["changes_in_flight"] == 0


@pytest.mark.full  # the default suite's trace and dry-run tests cover the same code in a fast form
def test_deletions_from_the_dry_run_held_back_by_the_guard_to_the_run_status_and_trace(
    make_harness: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    harness = make_harness(DELETES + "max_deletes_per_run = 1\n")
    assert harness.run(DAY).success
    deleted = _synced(harness)[:2]
    with harness.tempo("source") as tempo:
        for tempo_id, _ in deleted:
            tempo.delete(f"/4/worklogs/{tempo_id}").raise_for_status()
    with harness.sandbox.admin() as admin:
        admin.advance_clock(PAST_THE_FEED_LAG)
        admin.reset_stats()
        # Two deletions where one is allowed: the guard's check stops the dry run before its load.
        status, out = _run(capsys, DAY, DAY, "--dry-run", "--json")
        assert status == 1
        blocked = json.loads(out)
        status, text = _run(capsys, DAY, DAY, "--dry-run", "--quiet")
        assert status == 1
        assert main(["status", "--json"]) == 0
        held_back = json.loads(capsys.readouterr().out)["propagation"]
        harness.set_policy(DELETES + "max_deletes_per_run = 2\n")
        status, out = _run(capsys, DAY, DAY, "--dry-run", "--quiet")
        assert status == 0
        assert _writes(admin) == []
    assert blocked["dry_run"] is True
    assert [step["step"] for step in blocked["failed_steps"]] == ["worklog_replica_deletions_within_limit"]
    (check,) = blocked["failed_checks"]
    assert check["check"] == "deletions_within_limit"
    assert check["what_to_do"].startswith("2 copies would be deleted, above the 1 that [propagate]")
    assert all(str(tempo_id) in check["what_to_do"] for tempo_id, _ in deleted)
    # The load did not run: what it would do is unknown, not zero.
    assert [blocked["totals"][name] for name in ("would_create", "would_delete", "deletes_blocked")] == [
        None
    ] * 3
    assert _table(text)[1][DAY.isoformat()]["would delete"] == "-"
    assert NOTHING_WRITTEN in text
    assert held_back["source_deletions_not_carried"] == 2
    assert _table(out)[1][DAY.isoformat()]["would delete"] == "2"
    for _, copy_id in deleted:
        assert _copy(harness, copy_id)["tempoWorklogId"] == copy_id  # still there

    status, out = _run(capsys, DAY, DAY, "--quiet")
    assert status == 0
    assert _table(out)[1][DAY.isoformat()]["deleted"] == "2"
    assert main(["status", "--json"]) == 0
    propagation = json.loads(capsys.readouterr().out)["propagation"]
    assert (propagation["deleted_copies"], propagation["source_deletions_not_carried"]) == (2, 0)
    tempo_id, copy_id = deleted[0]
    assert main(["trace", str(copy_id)]) == 0
    out = capsys.readouterr().out
    assert dict(_cells(line) for line in _block(out, "ledger")[1:])["state"] == "deleted"
    events = [_cells(line)[1] for line in _block(out, "history:")[1:] if not line.startswith("    ")]
    assert events == ["created", "deleted"]
    assert out.startswith(f"worklog {tempo_id} (source Tempo id): {copy_id} is its destination Tempo")


@pytest.mark.full  # the default suite's trace and dry-run tests cover the same code in a fast form
def test_trace_follows_a_move_to_another_issue_and_finds_the_old_copy_while_it_waits(
    make_harness: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    harness = make_harness(UPDATES)
    assert harness.run(DAY).success
    tempo_id, old_copy, old_issue = harness.query(
        "select tempo_worklog_id, destination_tempo_worklog_id, destination_issue_id from sync.worklog_links"
        " where state = 'created' order by 1 limit 1"
    )[0]
    other_issue = harness.scalar(
        "select r.source_issue_key from sync.worklog_links l join replica.worklogs r using (tempo_worklog_id)"
        " where l.state = 'created' and l.destination_issue_id <> ? order by 1 limit 1",
        [old_issue],
    )
    with harness.sandbox.admin() as admin:
        admin.edit_worklog("source", tempo_id, issue_key=other_issue)
        # The new copy exists; the old one waits for its DELETE, held before it is applied.
        admin.hold("destination", "tempo", "DELETE /4/worklogs/{id}", when="before")
        run = threading.Thread(target=harness.run, args=(DAY,))
        run.start()
        try:
            _wait_until(lambda: any(hold["waiting"] for hold in admin.holds()))
            assert main(["trace", str(old_copy)]) == 0
            waiting = capsys.readouterr().out
        finally:
            admin.release_holds()
            run.join(timeout=120)
    new_copy, new_issue = harness.query(
        "select destination_tempo_worklog_id, destination_issue_id from sync.worklog_links"
        " where tempo_worklog_id = ?",
        [tempo_id],
    )[0]
    assert waiting.splitlines()[0] == (
        f"worklog {tempo_id} (source Tempo id): {old_copy} is its old destination copy, being moved to"
        " another issue"
    )
    ledger = dict(_cells(line) for line in _block(waiting, "ledger")[1:])
    assert ledger["old copy"].startswith(f"{old_copy} on issue {old_issue}, deleted once")

    assert main(["trace", str(new_copy)]) == 0
    history = _block(capsys.readouterr().out, "history:")
    events = [_cells(line)[1] for line in history[1:] if not line.startswith("    ")]
    assert events == ["created", "rehoming", "created", "moved"]
    fields = _history_fields(history)
    assert fields["rehoming"]["issue"] == f"{old_issue} → {new_issue}"
    assert fields["created"]["issue"] == str(new_issue)  # the last created: the copy on the new issue


def _block(output: str, title: str) -> list[str]:
    """The lines of the block whose first line starts with ``title`` (blocks are split by blank lines)."""
    return next(block.splitlines() for block in output.split("\n\n") if block.startswith(title))


def _history_fields(history: list[str]) -> dict[str, dict[str, str]]:
    """Each history entry's fields, by its event (the last entry of each event)."""
    fields: dict[str, dict[str, str]] = {}
    event = ""
    for line in history[1:]:
        if line.startswith("    "):
            cells = _cells(line)
            fields[event][cells[0]] = cells[1] if len(cells) > 1 else ""
        else:
            event = _cells(line)[1]
            fields[event] = {}
    return fields


def _wait_until(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
