"""API calls and wall time of tempo-sync against the reference product's per-worklog script.

Two sandboxes with the same data, latency and rate limits run side by side, each in its own
process. Against one, a baseline client inside this script does what the reference script
does: for each source issue one read of its worklogs (the first page only), the destination
issue by key, and for each worklog a source user lookup, a destination user search by email
and one create; it waits out a 429's Retry-After and tries again, as any client must. Against
the other, ``tempo-sync run`` syncs the same work dates. Both run at the same time so the
whole comparison takes as long as the slower one; the baseline spends its time waiting on the
network, not on the processor. Calls are counted by the sandboxes, 429s included.

The wall-time target is judged against the baseline's network floor (its calls times the
latency, which no load on this machine can inflate), not only against its measured time, so
that whatever else runs beside the baseline's long wait (``suite.py`` runs the other
benchmarks there) cannot flatter the ratio.

    uv run python benchmarks/versus_reference.py [--days 3] [--worklogs 600] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
from support import PRODUCT_MEASURED, ProductRun, Sandbox, print_calls, run_product, sandbox_process

from sandbox.config import CREDENTIALS, RateLimits

FIRST_DAY = date(2025, 3, 5)
SOURCE_PROJECTS = ("ACME", "OPS", "WEB", "DATA", "CLI")  # the sandbox's source projects
MAX_CALLS_PER_WORKLOG = 0.15
MIN_CALL_RATIO, MIN_TIME_RATIO = 20.0, 10.0


@dataclass
class BaselineRun:
    seconds: float
    synced: int
    skipped: int


class Baseline:
    """The reference script: sequential, unpaced, one request per lookup and per create."""

    def __init__(self, sandbox: Sandbox) -> None:
        source, destination = CREDENTIALS["source"], CREDENTIALS["destination"]
        urls = sandbox.urls
        self.source_jira = httpx.Client(
            base_url=urls.source.jira, auth=(source.jira_email, source.jira_token)
        )
        self.source_tempo = httpx.Client(
            base_url=urls.source.tempo, headers={"Authorization": f"Bearer {source.tempo_token}"}
        )
        self.destination_jira = httpx.Client(
            base_url=urls.destination.jira, auth=(destination.jira_email, destination.jira_token)
        )
        self.destination_tempo = httpx.Client(
            base_url=urls.destination.tempo, headers={"Authorization": f"Bearer {destination.tempo_token}"}
        )
        self.clients = (self.source_jira, self.source_tempo, self.destination_jira, self.destination_tempo)

    def run(self, first: date, last: date) -> BaselineRun:
        started = time.perf_counter()
        synced = skipped = 0
        jql = f"project in ({', '.join(SOURCE_PROJECTS)}) ORDER BY id"
        issues = self._send(
            self.source_jira, "POST", "/rest/api/3/search/jql",
            json={"jql": jql, "fields": ["key"], "maxResults": 5000},
        ).json()["issues"]  # fmt: skip
        for issue in issues:
            params = {"issueId": issue["id"], "from": first.isoformat(), "to": last.isoformat()}
            worklogs = self._send(self.source_tempo, "GET", "/4/worklogs", params=params).json()["results"]
            if not worklogs:
                continue
            target = self._send(self.destination_jira, "GET", f"/rest/api/3/issue/{issue['key']}",
                                params={"fields": "key"})  # fmt: skip
            if target.status_code != 200:
                skipped += len(worklogs)
                continue
            for worklog in worklogs:
                if self._copy(worklog, int(target.json()["id"])):
                    synced += 1
                else:
                    skipped += 1
        return BaselineRun(time.perf_counter() - started, synced, skipped)

    def _copy(self, worklog: dict[str, Any], issue_id: int) -> bool:
        account = worklog["author"]["accountId"]
        user = self._send(self.source_jira, "GET", "/rest/api/3/user", params={"accountId": account})
        email = user.json().get("emailAddress") if user.status_code == 200 else None
        if not email:
            return False
        found = self._send(self.destination_jira, "GET", "/rest/api/3/user/search", params={"query": email})
        matches = [u for u in found.json() if (u.get("emailAddress") or "").lower() == email.lower()]
        if len(matches) != 1:
            return False
        body = {
            "authorAccountId": matches[0]["accountId"],
            "issueId": issue_id,
            "startDate": worklog["startDate"],
            "timeSpentSeconds": worklog["timeSpentSeconds"],
            "billableSeconds": worklog.get("billableSeconds", worklog["timeSpentSeconds"]),
            "description": worklog.get("description", ""),
        }
        if "startTime" in worklog:
            body["startTime"] = worklog["startTime"]
        return self._send(self.destination_tempo, "POST", "/4/worklogs", json=body).status_code == 200

    @staticmethod
    def _send(client: httpx.Client, method: str, path: str, **options: Any) -> httpx.Response:
        while True:
            response = client.request(method, path, **options)
            if response.status_code != 429:
                return response
            time.sleep(float(response.headers.get("Retry-After", "1")))

    def close(self) -> None:
        for client in self.clients:
            client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--worklogs", type=int, default=600, help="source worklogs over all the days")
    parser.add_argument("--issues", type=int, default=60)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()

    limits = RateLimits()
    last = FIRST_DAY + timedelta(days=args.days - 1)
    options = [
        "--worklogs-per-day", str(args.worklogs // args.days), "--issues", str(args.issues),
        "--users", str(args.users), "--latency-ms", str(args.latency_ms),
    ]  # fmt: skip
    worklogs = args.worklogs // args.days * args.days
    print(f"tempo-sync versus the reference script: work dates {FIRST_DAY} to {last},")
    print(f"{worklogs} source worklogs on {args.issues} issues by {args.users} people,")
    print(f"{args.latency_ms:g} ms latency per answer, rate limits per credential:", end=" ")
    print(f"Tempo {limits.tempo_per_second:g}/s (burst {limits.tempo_burst}),", end=" ")
    print(f"Jira {limits.jira_per_second:g}/s (burst {limits.jira_burst}),")
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]};", end=" ")
    print("both run at the same time, each on its own sandbox")
    with sandbox_process(options) as product_sandbox, sandbox_process(options) as baseline_sandbox:
        baseline = Baseline(baseline_sandbox)
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                reference_future = pool.submit(baseline.run, FIRST_DAY, last)
                product = run_product(product_sandbox, FIRST_DAY, last)
                print(f"\n{PRODUCT_MEASURED}: {product.created} worklogs created in {product.seconds:.1f} s;"
                      " waiting for the reference script", flush=True)  # fmt: skip
                reference = reference_future.result()
        finally:
            baseline.close()
        product_calls, baseline_calls = product_sandbox.requests(), baseline_sandbox.requests()
    report(product, product_calls, reference, baseline_calls, args.latency_ms / 1000)


def report(
    product: ProductRun,
    product_calls: Counter[tuple[str, str, str, int]],
    reference: BaselineRun,
    baseline_calls: Counter[tuple[str, str, str, int]],
    latency_seconds: float,
) -> None:
    rows = []
    for name, calls, synced, seconds in (
        ("reference script", baseline_calls, reference.synced, reference.seconds),
        ("tempo-sync", product_calls, product.created, product.seconds),
    ):
        total = sum(calls.values())
        limited = sum(count for (_, _, _, status), count in calls.items() if status == 429)
        rows.append((name, total, limited, synced, total / max(synced, 1), seconds))
    print()
    print(f"{'':<18}{'API calls':>10}{'429s':>7}{'synced':>8}{'calls/worklog':>15}{'wall s':>9}")
    for name, total, limited, synced, per_worklog, seconds in rows:
        print(f"{name:<18}{total:>10}{limited:>7}{synced:>8}{per_worklog:>15.3f}{seconds:>9.1f}")
    base, ours = rows
    call_ratio, time_ratio = base[4] / ours[4], base[5] / ours[5]
    print(f"{'ratio':<18}{base[1] / ours[1]:>9.1f}x{'':>15}{call_ratio:>14.1f}x{time_ratio:>8.1f}x")
    floor = base[1] * latency_seconds
    floor_ratio = floor / ours[5]
    print(f"\nthe reference script's network floor: {base[1]} calls x {latency_seconds * 1000:g} ms ="
          f" {floor:.1f} s, {floor_ratio:.1f}x tempo-sync's wall time")  # fmt: skip
    print()
    if product.exit_status != 0:
        print(f"tempo-sync run exited with status {product.exit_status}")
    print_calls("tempo-sync's calls by endpoint:", product_calls)
    print_calls("the reference script's calls by endpoint:", baseline_calls)
    print()
    for met, text in (
        (ours[4] <= MAX_CALLS_PER_WORKLOG, f"at most {MAX_CALLS_PER_WORKLOG} calls per synced worklog"),
        (call_ratio >= MIN_CALL_RATIO, f"at least {MIN_CALL_RATIO:g}x fewer calls per synced worklog"),
        (
            min(time_ratio, floor_ratio) >= MIN_TIME_RATIO,
            f"at least {MIN_TIME_RATIO:g}x less wall time (measured and against the network floor)",
        ),
    ):
        print(f"{'meets' if met else 'misses'}: {text}")


if __name__ == "__main__":
    main()
