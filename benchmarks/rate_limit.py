"""How close tempo-sync's destination writes come to Tempo's rate limit when batching cannot help.

The sandbox spreads the source worklogs over 50,000 issues, so nearly every worklog is alone on
its issue and costs one create. ``tempo-sync run`` (default policy, so its default pacing) syncs
them while this script polls the sandbox's counters; the write rate is the creates between the
first and the last poll that saw creates, over the time between those polls. It is reported as
a share of the sandbox's Tempo limit for the destination token, with the 429s the run caused.

    uv run python benchmarks/rate_limit.py [--worklogs 120] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta

from support import Sandbox, print_calls, run_product, sandbox_process

from sandbox.config import RateLimits

FIRST_DAY = date(2025, 3, 5)
DAYS = 2
CREATES = ("POST /4/worklogs", "POST /4/worklogs/issue/{issueId}/bulk")
MIN_SHARE, MAX_429_SHARE = 0.90, 0.01
POLL_SECONDS = 0.2


def creates(requests: Counter[tuple[str, str, str, int]]) -> int:
    return sum(
        count
        for (site, service, endpoint, _), count in requests.items()
        if site == "destination" and service == "tempo" and endpoint in CREATES
    )


def watch(sandbox: Sandbox, done: threading.Event) -> list[tuple[float, int]]:
    """(seconds, destination creates so far) at each poll until `done` is set."""
    samples = []
    while not done.is_set():
        samples.append((time.perf_counter(), creates(sandbox.requests())))
        time.sleep(POLL_SECONDS)
    samples.append((time.perf_counter(), creates(sandbox.requests())))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worklogs", type=int, default=120, help="source worklogs over both days")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()

    limits = RateLimits()
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    options = ["--worklogs-per-day", str(args.worklogs // DAYS), "--issues", "50000",
               "--latency-ms", str(args.latency_ms)]  # fmt: skip
    worklogs = args.worklogs // DAYS * DAYS
    print(f"destination write rate when every worklog is on its own issue: {worklogs} source worklogs")
    print(f"over {DAYS} days on 50,000 issues, {args.latency_ms:g} ms latency, the destination token limited")
    print(f"to {limits.tempo_per_second:g} requests/s (burst {limits.tempo_burst}); ", end="")
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with sandbox_process(options) as sandbox:
        done = threading.Event()
        samples: list[tuple[float, int]] = []
        watcher = threading.Thread(target=lambda: samples.extend(watch(sandbox, done)))
        watcher.start()
        try:
            product = run_product(sandbox, FIRST_DAY, last)
        finally:
            done.set()
            watcher.join()
        requests = sandbox.requests()

    writing = [(at, count) for at, count in samples if count > 0]
    (start, first), (end, final) = writing[0], next(s for s in writing if s[1] == writing[-1][1])
    rate = (final - first) / (end - start) if end > start else float("nan")
    share = rate / limits.tempo_per_second
    total = sum(requests.values())
    limited = sum(count for (_, _, _, status), count in requests.items() if status == 429)
    print()
    print(f"tempo-sync run: exit status {product.exit_status}, {product.created} worklogs created, "
          f"{product.seconds:.1f} s")  # fmt: skip
    print(f"destination creates: {final} (every status), {final - first} of them in", end=" ")
    print(f"{end - start:.1f} s of writing")
    print(f"write rate: {rate:.2f}/s = {share:.1%} of the {limits.tempo_per_second:g}/s limit")
    print(f"429 answers: {limited} of {total} requests ({limited / total:.2%})")
    print_calls("calls by endpoint:", requests)
    print()
    verdicts = (
        (share >= MIN_SHARE, f"at least {MIN_SHARE:.0%} of the write rate limit"),
        (limited / total <= MAX_429_SHARE, f"at most {MAX_429_SHARE:.0%} of requests answered 429"),
    )
    for met, text in verdicts:
        print(f"{'meets' if met else 'misses'}: {text}")


if __name__ == "__main__":
    main()
