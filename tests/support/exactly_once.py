"""What "exactly once" means, checked against the destination as its own APIs answer.

Every visible source worklog of the dates has its documented outcome (synced, or parked with its
reason); each synced one has exactly one destination worklog that tempo-sync made, linked by the
ledger, with the source's fields as the destination stores them; and tempo-sync made nothing else.
Faults are switched off first: the read-back must not depend on retries.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from replication import canonical
from tests.support.fields import fingerprint
from tests.support.sandbox import follow_pages
from tests.support.sync import SyncHarness


def tempo_listing(harness: SyncHarness, site: str, first: date, last: date) -> list[dict[str, Any]]:
    """Every Tempo worklog of the dates on a site, as its API lists them."""
    with harness.tempo(site) as tempo:
        return follow_pages(tempo, "/4/worklogs", **{"from": first, "to": last, "limit": 5000})


def issue_keys(harness: SyncHarness, site: str, issue_ids: set[int]) -> dict[int, str]:
    """The keys of a site's issues, by id."""
    if not issue_ids:
        return {}
    with harness.jira(site) as jira:
        jql = f"id in ({', '.join(str(i) for i in sorted(issue_ids))})"
        answer = jira.post("/rest/api/3/search/jql", json={"jql": jql, "fields": ["key"], "maxResults": 5000})
        answer.raise_for_status()
        return {int(issue["id"]): issue["key"] for issue in answer.json()["issues"]}


def assert_exactly_once(harness: SyncHarness, first: date, last: date) -> int:
    """Assert the promise for the dates; returns how many worklogs were synced."""
    with harness.sandbox.admin() as admin:
        admin.set_faults()
        scenarios = {s["tempo_id"]: s for s in admin.scenarios("source", first, last) if s["visible"]}
        made = [w for w in admin.changed_worklogs("destination") if not w["deleted"]]
        people = {p["source"]["account_id"]: p for p in admin.people() if p["source"] and p["destination"]}
    outcomes = harness.outcomes()
    assert {i: outcomes.get(i) for i in scenarios} == {i: s["expected"] for i, s in scenarios.items()}
    links = dict(
        harness.query(
            "select tempo_worklog_id, coalesce(destination_tempo_worklog_id, destination_jira_worklog_id)"
            " from sync.worklog_links where state = 'created'"
        )
    )
    synced = [i for i, s in scenarios.items() if s["expected"] == "synced"]
    assert sorted(links) == sorted(synced)
    target = harness.scalar("select distinct target from sync.worklog_links")
    made_ids = [w["tempo_id"] if target == "tempo" else w["jira_id"] for w in made]
    # Nothing doubled: one destination worklog made per synced source worklog, each linked once.
    assert sorted(made_ids) == sorted(links.values())
    source = {w["tempoWorklogId"]: w for w in tempo_listing(harness, "source", first, last)}
    if target == "tempo":
        _assert_tempo_fields(harness, first, last, links, source, people)
    else:
        _assert_jira_fields(links, source, {w["jira_id"]: w for w in made}, people)
    return len(synced)


def _assert_tempo_fields(
    harness: SyncHarness,
    first: date,
    last: date,
    links: dict[int, int],
    source: dict[int, dict[str, Any]],
    people: dict[str, dict[str, Any]],
) -> None:
    copies = {w["tempoWorklogId"]: w for w in tempo_listing(harness, "destination", first, last)}
    source_keys = issue_keys(harness, "source", {source[i]["issue"]["id"] for i in links})
    copy_keys = issue_keys(harness, "destination", {copies[c]["issue"]["id"] for c in links.values()})
    expected = {
        i: fingerprint(
            source[i], _twin(people, source[i])["account_id"], source_keys[source[i]["issue"]["id"]]
        )
        for i in links
    }
    arrived = {
        i: fingerprint(copies[c], copies[c]["author"]["accountId"], copy_keys[copies[c]["issue"]["id"]])
        for i, c in links.items()
    }
    assert Counter(arrived.values()) == Counter(expected.values())
    assert arrived == expected


def _assert_jira_fields(
    links: dict[int, int],
    source: dict[int, dict[str, Any]],
    made: dict[int, dict[str, Any]],
    people: dict[str, dict[str, Any]],
) -> None:
    """A Jira copy holds the source's date, start, duration and description, and names the worker
    and the source worklog in its comment (Jira records the token's account as the author)."""
    for tempo_id, jira_id in links.items():
        original, copy = source[tempo_id], made[jira_id]
        assert copy["start_date"] == original["startDate"], tempo_id
        assert canonical.start_seconds(copy["start_time"]) == canonical.start_seconds(
            original.get("startTime")
        )
        assert copy["time_spent"] == original["timeSpentSeconds"], tempo_id
        comment = copy["description"] or ""
        described = canonical.description(original.get("description"))
        assert canonical.description(comment).startswith(described), tempo_id
        worker = people[original["author"]["accountId"]]["source"]["display_name"]
        assert f"Work by {worker}, logged in Tempo on " in comment, tempo_id
        assert comment.rstrip().endswith(f"(Tempo worklog {tempo_id}).")


def _twin(people: dict[str, dict[str, Any]], worklog: dict[str, Any]) -> dict[str, Any]:
    """The destination account of a source worklog's author."""
    return people[worklog["author"]["accountId"]]["destination"]
