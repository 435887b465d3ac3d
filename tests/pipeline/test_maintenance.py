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
    assert f"{rejected} rejected worklog(s)" in capsys.readouterr().out
    assert harness.run(NEXT_DAY).success
    assert harness.scalar("select count(*) from sync.worklog_links where state = 'rejected'") == 0
    created = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
    assert harness.scalar("select count(*) from sync.events where event = 'retry_requested'") == rejected
    assert harness.scalar("select count(*) from sync.events where event = 'created'") == created
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) == created > synced


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
