"""API calls per worklog of a two-way pair: what the other direction's copies cost the pair that meets them.

Two sandbox processes with the same data knobs (so the same accounts, issues and ids). In the
first, the pair ``a_to_b`` syncs a work date (its copies land on site B), people log ``--natives``
worklogs of their own on B, and the pair ``b_to_a`` syncs the date back: it meets a_to_b's copies
and must send only B's own worklogs. In the second (the baseline, measured in the same run), no
copy was ever made: the same worklogs are logged on B and ``b_to_a`` syncs them alone. The
difference of b_to_a's requests, divided by the copies it met, is the cost per copy.

    uv run python benchmarks/two_way.py [--natives 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import httpx
from support import Sandbox, by_endpoint, sandbox_process

from pipelines.definitions import build_definitions
from sandbox.config import CREDENTIALS

DAY = date(2025, 3, 5)
SITES = {"a": "source", "b": "destination"}
UNPACED = "[http]\ntempo_requests_per_second = 0\njira_requests_per_second = 0\n"


class TwoWay:
    """Pairs a_to_b and b_to_a between one sandbox's two sites, in-process runs."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.work = Path(tempfile.mkdtemp(prefix="tempo-sync-bench-two-way-"))
        (self.work / "policy.toml").write_text(UNPACED, encoding="utf-8")
        tables = []
        for name, (source, destination) in {"a_to_b": ("a", "b"), "b_to_a": ("b", "a")}.items():
            lines = [f'name = "{name}"', f'duckdb = "{name}.duckdb"', 'config = "policy.toml"']
            for prefix, letter in (("source", source), ("dest", destination)):
                urls, credentials = getattr(sandbox.urls, SITES[letter]), CREDENTIALS[SITES[letter]]
                lines += [f'{prefix}_jira_url = "{urls.jira}"', f'{prefix}_tempo_url = "{urls.tempo}"',
                          f'{prefix}_jira_email = "{credentials.jira_email}"',
                          f'{prefix}_jira_token_env = "{letter.upper()}_JIRA_TOKEN"',
                          f'{prefix}_tempo_token_env = "{letter.upper()}_TEMPO_TOKEN"']  # fmt: skip
            tables.append("[[pairs]]\n" + "\n".join(lines) + "\n")
        (self.work / "pairs.toml").write_text("\n".join(tables), encoding="utf-8")
        self.environ = {**os.environ, "TEMPO_SYNC_PAIRS": str(self.work / "pairs.toml")}
        for letter, site in SITES.items():
            self.environ[f"{letter.upper()}_JIRA_TOKEN"] = CREDENTIALS[site].jira_token
            self.environ[f"{letter.upper()}_TEMPO_TOKEN"] = CREDENTIALS[site].tempo_token
        os.environ.update(self.environ)  # dg.EnvVar reads the tokens from the process environment

    def run(self, pair: str) -> Counter[str]:
        """One run of the pair over the date; the requests it made, by site, service and endpoint."""
        before = by_endpoint(self.sandbox.requests())
        job = build_definitions(self.environ).resolve_job_def(f"{pair}_sync_worklogs")
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(
                instance=instance, partition_key=DAY.isoformat(), raise_on_error=False
            )
        if not result.success:
            raise SystemExit(f"the run of {pair} failed")
        return by_endpoint(self.sandbox.requests()) - before

    def scalar(self, pair: str, sql: str) -> int:
        with duckdb.connect(str(self.work / f"{pair}.duckdb"), read_only=True) as connection:
            row = connection.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def log_on_b(self, people: list[tuple[str, int]]) -> None:
        urls, credentials = self.sandbox.urls.destination, CREDENTIALS["destination"]
        with httpx.Client(base_url=urls.tempo, headers={"Authorization": f"Bearer {credentials.tempo_token}"},
                          timeout=60) as tempo:  # fmt: skip
            for index, (author, issue) in enumerate(people):
                tempo.post("/4/worklogs", json={
                    "authorAccountId": author, "issueId": issue, "startDate": DAY.isoformat(),
                    "startTime": f"{8 + index % 10:02d}:30:00", "timeSpentSeconds": 600 * (index + 1),
                    "description": f"B's own work {index}",
                }).raise_for_status()  # fmt: skip

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--natives", type=int, default=5, help="worklogs B's people log on B")
    args = parser.parse_args()

    with sandbox_process([]) as sandbox:
        two_way = TwoWay(sandbox)
        try:
            two_way.run("a_to_b")
            with duckdb.connect(str(two_way.work / "a_to_b.duckdb"), read_only=True) as connection:
                people = [
                    (str(author), int(issue))
                    for author, issue in connection.execute(
                        "select destination_author_account_id, destination_issue_id from replica.worklogs"
                        " where status = 'ready' order by tempo_worklog_id limit ?",
                        [args.natives],
                    ).fetchall()
                ]
            two_way.log_on_b(people)
            with_copies = two_way.run("b_to_a")
            copies = two_way.scalar("b_to_a", "select count(*) from replica.worklogs where status = 'copy'")
            sent = two_way.scalar("b_to_a", "select count(*) from sync.worklog_links where state = 'created'")
        finally:
            two_way.close()
    with sandbox_process([]) as sandbox:
        baseline = TwoWay(sandbox)
        try:
            baseline.log_on_b(people)
            alone = baseline.run("b_to_a")
            sent_alone = baseline.scalar(
                "b_to_a", "select count(*) from sync.worklog_links where state = 'created'"
            )
        finally:
            baseline.close()

    extra = sum(with_copies.values()) - sum(alone.values())
    print(f"b_to_a met {copies} copies a_to_b made on B and sent {sent} worklogs (B's own: {len(people)});")
    print(f"without any copy on B it sent {sent_alone}.")
    print(f"{'':<52}{'with copies':>12}{'no copies':>11}")
    for endpoint in sorted(set(with_copies) | set(alone)):
        print(f"{endpoint:<52}{with_copies[endpoint]:>12}{alone[endpoint]:>11}")
    print(f"{'all requests':<52}{sum(with_copies.values()):>12}{sum(alone.values()):>11}")
    per_copy = extra / max(copies, 1)
    print(f"cost of the copies: {extra} request(s) for {copies} copies = {per_copy:.2f} per copy")
    print("meets: no copy sent back" if sent == sent_alone == len(people) else "FAILS: a copy was sent back")


if __name__ == "__main__":
    main()
