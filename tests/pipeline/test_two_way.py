"""Two sandbox sites syncing each other (pairs a_to_b and b_to_a): a copy tempo-sync made is never
copied back, under lost answers, when both directions run at once, and once one direction is gone."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest

from pipelines.definitions import build_definitions
from sandbox.config import CREDENTIALS
from sandbox.server import SandboxServer
from tests.conftest import SandboxFactory
from tests.support.sync import UNPACED

DAY = date(2025, 3, 5)
SITES = {"a": "source", "b": "destination"}  # the sandbox's two sites
REPO = Path(__file__).resolve().parents[2]


class TwoWay:
    """Pairs a_to_b and b_to_a between the sandbox's two sites, each with its own DuckDB file."""

    def __init__(self, sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        (tmp_path / "policy.toml").write_text(UNPACED, encoding="utf-8")
        for letter, site in SITES.items():
            monkeypatch.setenv(f"{letter.upper()}_JIRA_TOKEN", CREDENTIALS[site].jira_token)
            monkeypatch.setenv(f"{letter.upper()}_TEMPO_TOKEN", CREDENTIALS[site].tempo_token)
        self.write_pairs("a_to_b", "b_to_a")
        self.instance = dg.DagsterInstance.ephemeral()

    @property
    def environ(self) -> dict[str, str]:
        """The process's environment (with the tokens) and the pairs file, as a deployment has it."""
        return {**os.environ, "TEMPO_SYNC_PAIRS": str(self.tmp_path / "pairs.toml")}

    def write_pairs(self, *names: str, a_to_b_tempo: bool = True) -> None:
        tables = []
        for name in names:
            source, destination = name.split("_to_")
            dest_tempo = "" if name == "a_to_b" and not a_to_b_tempo else destination.upper() + "_TEMPO_TOKEN"
            tables.append(
                f'[[pairs]]\nname = "{name}"\n'
                + "".join(self._site("source", source) + self._site("dest", destination))
                + f'duckdb = "{name}.duckdb"\nconfig = "policy.toml"\n'
                f'source_jira_token_env = "{source.upper()}_JIRA_TOKEN"\n'
                f'source_tempo_token_env = "{source.upper()}_TEMPO_TOKEN"\n'
                f'dest_jira_token_env = "{destination.upper()}_JIRA_TOKEN"\n'
                + (f'dest_tempo_token_env = "{dest_tempo}"\n' if dest_tempo else "")
            )
        (self.tmp_path / "pairs.toml").write_text("\n".join(tables), encoding="utf-8")

    def _site(self, prefix: str, letter: str) -> str:
        site = SITES[letter]
        urls = getattr(self.sandbox.urls, site)
        return (
            f'{prefix}_jira_url = "{urls.jira}"\n{prefix}_jira_email = "{CREDENTIALS[site].jira_email}"\n'
            f'{prefix}_tempo_url = "{urls.tempo}"\n'
        )

    def run(self, pair: str) -> dg.ExecuteInProcessResult:
        job = build_definitions(self.environ).resolve_job_def(f"{pair}_sync_worklogs")
        return job.execute_in_process(
            instance=self.instance, partition_key=DAY.isoformat(), raise_on_error=False
        )

    def query(self, pair: str, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.tmp_path / f"{pair}.duckdb"), read_only=True) as connection:
            return connection.execute(sql).fetchall()

    def tempo(self, letter: str) -> httpx.Client:
        site = SITES[letter]
        return httpx.Client(
            base_url=getattr(self.sandbox.urls, site).tempo,
            headers={"Authorization": f"Bearer {CREDENTIALS[site].tempo_token}"},
            timeout=60,
        )

    def worklogs(self, letter: str) -> list[dict[str, Any]]:
        with self.tempo(letter) as tempo:
            body = tempo.get("/4/worklogs", params={"from": DAY.isoformat(), "to": DAY.isoformat(),
                                                    "limit": 5000}).raise_for_status().json()  # fmt: skip
        return body["results"]

    def log_on_b(self, count: int) -> list[int]:
        """Worklogs B's own people log on B, by people and on issues a_to_b has synced (so they
        exist on both sites and b_to_a can resolve them)."""
        synced = self.query(
            "a_to_b",
            "select destination_author_account_id, destination_issue_id from replica.worklogs"
            " where status = 'ready' order by tempo_worklog_id",
        )
        with self.tempo("b") as tempo:
            return [
                tempo.post("/4/worklogs", json={
                    "authorAccountId": author, "issueId": int(issue), "startDate": DAY.isoformat(),
                    "startTime": f"{8 + index:02d}:15:00", "timeSpentSeconds": 900 * (index + 1),
                    "description": f"B's own work {index}",
                }).raise_for_status().json()["tempoWorklogId"]
                for index, (author, issue) in enumerate(synced[:count])
            ]  # fmt: skip


def _fingerprints(worklogs: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(
        (
            w["author"]["accountId"],
            w["issue"]["id"],
            w.get("startTime"),
            w["timeSpentSeconds"],
            w.get("description"),
        )
        for w in worklogs
    )


def _created(result: dg.ExecuteInProcessResult, pair: str) -> int:
    return sum(
        int(m.metadata["created"].value)
        for m in result.asset_materializations_for_node(f"{pair}__destination_worklogs")
    )


@pytest.fixture
def two_way(start_sandbox: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TwoWay:
    return TwoWay(start_sandbox(), tmp_path, monkeypatch)


@pytest.mark.slow
def test_copies_are_never_copied_back_even_when_their_answers_were_lost(two_way: TwoWay) -> None:
    a_before = len(two_way.worklogs("a"))
    first = two_way.run("a_to_b")
    assert first.success
    copies_on_b = two_way.query("a_to_b", "select destination_tempo_worklog_id from sync.worklog_links")
    assert len(copies_on_b) == _created(first, "a_to_b") > 0
    natives = two_way.log_on_b(3)

    # b_to_a lists B (its own people's worklogs and a_to_b's copies) and sends back only B's own.
    back = two_way.run("b_to_a")
    assert back.success
    assert _created(back, "b_to_a") == 3
    statuses = dict(two_way.query("b_to_a", "select status, count(*) from replica.worklogs group by 1"))
    assert statuses["copy"] == len(copies_on_b)
    sent_back = {row[0] for row in two_way.query("b_to_a", "select tempo_worklog_id from sync.worklog_links")}
    assert sent_back == set(natives)
    detail = two_way.query("b_to_a", "select park_detail from replica.worklogs where status = 'copy' limit 1")
    assert "a copy the pair a_to_b made of Tempo worklog" in detail[0][0]

    # Now a_to_b's answers are lost: its new copies exist on B while its ledger only knows they were
    # sent. b_to_a runs in that window and must not take them for B's own worklogs.
    with two_way.tempo("a") as tempo:
        model = tempo.get(f"/4/worklogs/{_a_native(two_way)}").raise_for_status().json()
        for index in range(2):
            tempo.post("/4/worklogs", json={
                "authorAccountId": model["author"]["accountId"], "issueId": model["issue"]["id"],
                "startDate": DAY.isoformat(), "startTime": f"1{index}:45:00", "timeSpentSeconds": 600,
                "description": f"A's late work {index}",
            }).raise_for_status()  # fmt: skip
    with two_way.sandbox.admin() as admin:
        admin.set_faults(share_lost_post=1.0, targets=["destination/tempo"])
        lost = two_way.run("a_to_b")
        admin.set_faults()
    assert not lost.success  # copies in doubt: the run says so and sends nothing again
    in_flight = two_way.run("b_to_a")
    assert in_flight.success
    assert _created(in_flight, "b_to_a") == 0
    parked = two_way.query(
        "b_to_a", "select count(*) from replica.worklogs where park_reason = 'copy_in_flight'"
    )
    assert parked[0][0] >= 2

    # a_to_b settles its copies by reading B; then b_to_a knows them by id and sends nothing.
    assert two_way.run("a_to_b").success
    settled = two_way.run("b_to_a")
    assert settled.success
    assert _created(settled, "b_to_a") == 0
    assert two_way.query("b_to_a", "select count(*) from replica.worklogs where status = 'parked'"
                         " and park_reason = 'copy_in_flight'")[0][0] == 0  # fmt: skip

    # Each side holds every worklog once: A its own, plus B's three; B its own, plus A's.
    a_now, b_now = two_way.worklogs("a"), two_way.worklogs("b")
    assert len(a_now) == a_before + 2 + 3
    assert max(_fingerprints(a_now).values()) == 1
    assert max(_fingerprints(b_now).values()) == 1
    assert two_way.run("a_to_b").success
    assert two_way.run("b_to_a").success
    assert len(two_way.worklogs("a")) == len(a_now)
    assert len(two_way.worklogs("b")) == len(b_now)


def _a_native(two_way: TwoWay) -> int:
    """A worklog a_to_b synced: its author and issue exist on both sites."""
    return two_way.query(
        "a_to_b", "select min(tempo_worklog_id) from sync.worklog_links where state = 'created'"
    )[0][0]


@pytest.mark.slow
def test_a_copy_on_a_jira_destination_is_known_by_its_mark_once_its_pair_is_gone(two_way: TwoWay) -> None:
    # a_to_b writes Jira worklogs on B (no Tempo token named), whose comments carry tempo-sync's
    # worker note; B's Tempo lists them with that text as their description.
    two_way.write_pairs("a_to_b", "b_to_a", a_to_b_tempo=False)
    first = two_way.run("a_to_b")
    assert first.success
    made = _created(first, "a_to_b")
    assert made > 0
    # The pair a_to_b is removed, its ledger with it: b_to_a has only the copies' mark to go by.
    two_way.write_pairs("b_to_a")
    assert "a_to_b_sync_worklogs" not in {job.name for job in build_definitions(two_way.environ).jobs}
    back = two_way.run("b_to_a")
    assert back.success
    assert _created(back, "b_to_a") == 0
    copies = two_way.query(
        "b_to_a", "select count(*), min(park_detail) from replica.worklogs where status = 'copy'"
    )
    assert copies[0][0] == made
    assert copies[0][1] == "it carries the mark of a copy tempo-sync made"


_RUN_ONE = """
import os, sys
import dagster as dg
from pipelines.definitions import build_definitions
job = build_definitions(os.environ).resolve_job_def(sys.argv[1] + "_sync_worklogs")
result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), partition_key=sys.argv[2],
                                raise_on_error=False)
sys.exit(0 if result.success else 1)
"""


@pytest.mark.slow
@pytest.mark.full
def test_both_directions_running_at_once_never_copy_a_copy(two_way: TwoWay) -> None:
    """Both pairs' runs in their own processes at the same time, round after round, with half of all
    creation answers lost on both sites."""
    assert two_way.run("a_to_b").success
    two_way.log_on_b(4)
    environ = two_way.environ
    with two_way.sandbox.admin() as admin:
        admin.set_faults(share_lost_post=0.5, targets=["destination/tempo", "source/tempo"])
        for _ in range(3):
            runs = [
                subprocess.Popen(
                    [sys.executable, "-c", _RUN_ONE, pair, DAY.isoformat()],
                    cwd=REPO,
                    env=environ,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for pair in ("a_to_b", "b_to_a")
            ]
            for process in runs:
                process.wait(timeout=240)
        admin.set_faults()
    for _ in range(3):  # without faults, what is in doubt settles
        a_ok, b_ok = two_way.run("a_to_b").success, two_way.run("b_to_a").success
        if a_ok and b_ok:
            break
    assert a_ok
    assert b_ok
    a_now, b_now = two_way.worklogs("a"), two_way.worklogs("b")
    assert max(_fingerprints(a_now).values()) == 1
    assert max(_fingerprints(b_now).values()) == 1
    # Nothing on either side is a copy of a copy: b_to_a sent B's four own worklogs only.
    assert (
        two_way.query("b_to_a", "select count(*) from sync.worklog_links where state = 'created'")[0][0] == 4
    )
