"""`tempo-sync retry` lets refused worklogs go again after a fix; `tempo-sync purge-directory`
removes the cached people and the next run looks them up again."""

from __future__ import annotations

from datetime import date

import pytest

from cli.main import main
from tests.support.refusals import deactivate_synced_authors, reactivate

DAY = date(2025, 3, 5)
NEXT_DAY = date(2025, 3, 6)


@pytest.fixture
def environment(harness, monkeypatch):
    for name, value in harness.environ.items():
        monkeypatch.setenv(name, value)
    return harness


def test_retry_sends_refused_worklogs_again_once_the_destination_is_fixed(environment, capsys):
    harness = environment
    assert harness.run(DAY).success
    synced = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
    accounts = deactivate_synced_authors(harness)
    assert harness.run(NEXT_DAY).success
    rejected = harness.scalar("select count(*) from sync.worklog_links where state = 'rejected'")
    assert rejected > 10
    reactivate(harness, accounts)
    assert harness.run(NEXT_DAY).success  # fixed, but nothing changed in the rows: not resent
    assert harness.scalar("select count(*) from sync.worklog_links where state = 'rejected'") == rejected

    assert main(["retry", "--from", "2025-03-06", "--to", "2025-03-06"]) == 0
    assert f"{rejected} rejected worklog(s) and 0 refused edit(s)" in capsys.readouterr().out
    assert harness.run(NEXT_DAY).success
    assert harness.scalar("select count(*) from sync.worklog_links where state = 'rejected'") == 0
    created = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
    assert harness.scalar("select count(*) from sync.events where event = 'retry_requested'") == rejected
    assert harness.scalar("select count(*) from sync.events where event = 'created'") == created
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) == created > synced


@pytest.mark.full  # the fast form: retry of refused creations, above
def test_retry_lets_a_refused_edit_go_again_once_the_destination_is_fixed(environment, capsys):
    harness = environment
    harness.set_policy("[propagate]\nupdates = true\n")
    assert harness.run(DAY).success
    tempo_id, copy_id = harness.query(
        "select tempo_worklog_id, destination_tempo_worklog_id from sync.worklog_links order by 1 limit 1"
    )[0]
    # The destination refuses the edit: its author was deactivated there after the directory cached him.
    accounts = deactivate_synced_authors(harness)
    with harness.sandbox.admin() as admin:
        admin.edit_worklog("source", tempo_id, description="edited after the author left")
        assert harness.run(DAY).success
        assert harness.scalar(
            "select change from sync.worklog_links where tempo_worklog_id = ?", [tempo_id]
        ) == ("rejected")
        reactivate(harness, accounts)
        admin.reset_stats()
        assert harness.run(DAY).success  # fixed, but nothing changed on the source: not sent again
        assert admin.count("destination", "tempo", "PUT /4/worklogs/{id}") == 0
        assert main(["retry", "--from", "2025-03-05", "--to", "2025-03-05"]) == 0
        assert "0 rejected worklog(s) and 1 refused edit(s) or deletion(s)" in capsys.readouterr().out
        assert harness.run(DAY).success
        assert admin.count("destination", "tempo", "PUT /4/worklogs/{id}") == 1
    copy = harness.tempo("destination").get(f"/4/worklogs/{copy_id}").json()
    assert copy["description"] == "edited after the author left"


def test_purge_directory_removes_cached_people_and_the_next_run_fetches_them(environment, capsys):
    harness = environment
    assert harness.run(DAY).success
    users = harness.scalar("select count(*) from directory.users")
    assert users > 20
    assert main(["purge-directory"]) == 0
    assert f"removed {users} cached user(s)" in capsys.readouterr().out
    assert harness.scalar("select count(*) from directory.users") == 0
    assert harness.scalar("select count(*) from directory.user_searches") == 0
    created = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
    assert harness.run(DAY).success
    assert harness.scalar("select count(*) from directory.users") > 20
    assert harness.scalar("select count(*) from sync.worklog_links where state = 'created'") == created
