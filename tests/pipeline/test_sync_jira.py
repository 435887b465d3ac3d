"""End to end against a destination without Tempo: plain Jira worklogs, the worker named in the
comment, the source worklog linked in a property, the start in the worker's own time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

DAY = date(2025, 3, 5)


def _text(adf: dict) -> str:
    return "\n".join(
        "".join(node.get("text", "") for node in paragraph.get("content", [])) for paragraph in adf["content"]
    )


def test_without_a_destination_tempo_jira_worklogs_carry_the_worker_and_a_link(make_harness):
    harness = make_harness(destination_tempo=False)
    assert harness.environ["DEST_TEMPO_TOKEN"] == ""
    harness.set_policy('[load]\nremaining_estimate = "copy"\n')
    result = harness.run(DAY)
    assert result.success
    rows = harness.query(
        """
        select r.tempo_worklog_id, r.source_jira_worklog_id, r.destination_issue_id, r.source_author_name,
               r.author_time_zone, r.start_date, r.start_time, r.time_spent_seconds, r.description,
               r.remaining_estimate_seconds, l.target, l.destination_jira_worklog_id,
               l.destination_tempo_worklog_id
        from replica.worklogs r join sync.worklog_links l using (tempo_worklog_id)
        where l.state = 'created'
        """
    )
    with harness.sandbox.admin() as admin:
        expected = sum(
            1 for s in admin.scenarios("source", DAY, DAY) if s["visible"] and s["expected"] == "synced"
        )
        integration_user = next(a for a in admin.accounts("destination") if a["display_name"] == "Tempo Sync")
    assert len(rows) == expected > 20
    checked_midnight = False
    with harness.jira("destination") as destination, harness.jira("source") as source:
        for (tempo_id, source_jira_id, issue_id, worker, zone, day, start, seconds, description, remaining,
             target, jira_id, tempo_copy) in rows:  # fmt: skip
            assert target == "jira"
            assert tempo_copy is None
            worklog = destination.get(
                f"/rest/api/3/issue/{issue_id}/worklog/{jira_id}", params={"expand": "properties"}
            ).json()
            # Jira records the caller as the author; the comment names who did the work.
            assert worklog["author"]["accountId"] == integration_user["account_id"]
            comment = _text(worklog["comment"])
            assert f"Work by {worker}" in comment
            if description:
                assert comment.startswith(description)
            # Local wall-clock start with the worker's own UTC offset at that moment.
            local = datetime.combine(
                day, datetime.strptime(start or "00:00:00", "%H:%M:%S").time(), ZoneInfo(zone)
            )
            assert worklog["started"] == local.strftime("%Y-%m-%dT%H:%M:%S.000%z")
            assert worklog["timeSpentSeconds"] == seconds
            (link,) = [p for p in worklog["properties"] if p["key"] == "tempo-sync.source"]
            assert link["value"]["tempoWorklogId"] == tempo_id
            assert link["value"]["jiraWorklogId"] == source_jira_id
            checked_midnight |= start is not None and start >= "23:30:00"
            issue = destination.get(
                f"/rest/api/3/issue/{issue_id}", params={"fields": "timeestimate,key"}
            ).json()
            source_issue = source.get(
                "/rest/api/3/search/jql", params={"jql": f"key = {issue['fields'] and issue['key']}",
                                                  "fields": "timeestimate"}
            ).json()["issues"][0]  # fmt: skip
            # Jira keeps whole minutes of the remaining estimate.
            source_remaining = source_issue["fields"]["timeestimate"]
            if source_remaining is not None:
                assert issue["fields"]["timeestimate"] == source_remaining // 60 * 60
            assert remaining == source_remaining
    assert checked_midnight
    # Running again creates nothing: the ledger knows every worklog.
    again = harness.run(DAY)
    assert again.success
    assert harness.scalar("select count(*) from sync.worklog_links where state = 'created'") == expected
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) == expected
