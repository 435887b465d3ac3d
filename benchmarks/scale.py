"""Seconds and peak memory of extract and transform for 10k, 100k and 1M source worklogs.

Pages are recorded once from the sandbox (a few thousand real worklogs with every awkward
case), then replayed by a small server in its own process that stamps new ids on the recorded
records, so the sandbox's own generation cost stays out of the figures and the product reads
real HTTP pages of 5000. Each size runs in a fresh process that materializes the extract and
transform assets (``source_worklogs``, both directories, ``worklog_replica``) for the range in
one Dagster run, as a single-run backfill would; the directories' few Jira calls go to the
sandbox, unlimited and without latency. The measured process reports its peak RSS.

    uv run python benchmarks/scale.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from support import free_port, peak_rss_mb, sandbox_process, wait_for, with_bytecode

from sandbox.config import CREDENTIALS

FIRST_DAY = date(2025, 3, 1)
DAYS = 10
RECORDED_PER_DAY = 500  # 5000 recorded worklogs, replayed with new ids up to each size
PAGE = 5000
# Copy c of recorded worklog n gets id n + c * ID_STRIDE; Jira ids sit far above every Tempo id.
ID_STRIDE = 10**11
JIRA_OFFSET = 10**15
TARGETS = {100_000: 8.0, 1_000_000: 60.0}  # seconds the issue allows
MAX_RSS_MB = 1536.0
STEPS = ("source_worklogs", "source_directory", "destination_directory", "worklog_replica")


def record(tempo_url: str, path: Path) -> int:
    """Every source worklog of the range as the sandbox lists it, saved as one JSON list."""
    token = CREDENTIALS["source"].tempo_token
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    records: list[dict[str, Any]] = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        url: str | None = f"{tempo_url}/4/worklogs"
        params: dict[str, Any] | None = {"from": FIRST_DAY.isoformat(), "to": last.isoformat(), "limit": PAGE}
        while url:
            body = client.get(url, params=params).raise_for_status().json()
            records += body["results"]
            url, params = body["metadata"].get("next"), None
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return len(records)


def serve_recording(path: Path, port: int, sandbox_base: str) -> None:
    """Replay the recording: ``/{size}/4/worklogs`` lists `size` worklogs, 5000 a page; the id
    mapping answers from the ids; any other Tempo call goes on to the sandbox's source Tempo."""
    import uvicorn  # noqa: PLC0415 - only the replay process needs it

    records = json.loads(path.read_text(encoding="utf-8"))
    ids = [int(r["tempoWorklogId"]) for r in records]
    parts = []  # each record's JSON split around its id, so a page is a join, not a dump
    for r in records:
        text = json.dumps({**r, "tempoWorklogId": 0}, ensure_ascii=False)
        head, tail = text.split('"tempoWorklogId": 0', 1)
        parts.append((head.encode() + b'"tempoWorklogId": ', tail.encode()))
    json_headers = [(b"content-type", b"application/json")]
    forward = httpx.AsyncClient(base_url=f"{sandbox_base}/source/tempo", timeout=60)

    def page(base: str, size: int, offset: int) -> bytes:
        end = min(offset + PAGE, size)
        items = []
        for index in range(offset, end):
            copy, n = divmod(index, len(records))
            head, tail = parts[n]
            items.append(head + str(ids[n] + copy * ID_STRIDE).encode() + tail)
        metadata: dict[str, Any] = {"count": end - offset, "offset": offset, "limit": PAGE}
        if end < size:
            metadata["next"] = f"{base}?offset={end}&limit={PAGE}"
        return b'{"metadata": ' + json.dumps(metadata).encode() + b', "results": [' + b",".join(items) + b"]}"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        size_text, _, rest = scope["path"].strip("/").partition("/")
        query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
        base = f"http://127.0.0.1:{port}/{size_text}/{rest}"
        request = b""
        while True:
            message = await receive()
            request += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = 200
        if rest == "4/worklogs":
            body = page(base, int(size_text), int(query.get("offset", 0)))
        elif rest != "4/worklogs/tempo-to-jira":
            headers = {k.decode(): v.decode() for k, v in scope["headers"] if k == b"authorization"}
            answer = await forward.request(
                scope["method"], f"/{rest}", params=query, headers=headers, content=request
            )
            status, body = answer.status_code, answer.content
        else:
            wanted = json.loads(request)["tempoWorklogIds"]
            results = [{"tempoWorklogId": i, "jiraWorklogId": i + JIRA_OFFSET} for i in wanted]
            body = json.dumps({"metadata": {"count": len(results)}, "results": results}).encode()
        await send({"type": "http.response.start", "status": status, "headers": json_headers})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


def measure(size: int, replay: str, sandbox_base: str) -> dict[str, Any]:
    """One Dagster run of the extract and transform assets over the range, in this process."""
    import dagster as dg  # noqa: PLC0415 - the measured process only

    from assets.extract import extract_assets  # noqa: PLC0415
    from assets.pair import Pair  # noqa: PLC0415
    from assets.partitions import work_days  # noqa: PLC0415
    from assets.transform import transform_assets  # noqa: PLC0415
    from resources.jira import JiraClient  # noqa: PLC0415
    from resources.policy import Schedule, SyncPolicy  # noqa: PLC0415
    from resources.settings import DEFAULT_PAIR, DEFAULT_START_DATE  # noqa: PLC0415
    from resources.tempo import TempoClient  # noqa: PLC0415
    from resources.warehouse import Warehouse  # noqa: PLC0415

    work = Path(tempfile.mkdtemp(prefix="tempo-sync-scale-"))
    resources: dict[str, Any] = {
        "policy": SyncPolicy(source_site="source.example"),
        "warehouse": Warehouse(database=str(work / "tempo_sync.duckdb")),
        "source_tempo": TempoClient(
            base_url=f"{replay}/{size}", token=CREDENTIALS["source"].tempo_token, requests_per_second=0
        ),
    }
    for site in ("source", "destination"):
        credentials = CREDENTIALS[site]
        resources[f"{site}_jira"] = JiraClient(
            base_url=f"{sandbox_base}/{site}/jira", email=credentials.jira_email,
            token=credentials.jira_token, site=site, requests_per_second=0,
        )  # fmt: skip
    resources["destination_tempo"] = TempoClient(
        base_url=f"{sandbox_base}/destination/tempo", token=CREDENTIALS["destination"].tempo_token,
        site="destination", requests_per_second=0,
    )  # fmt: skip
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    tags = {"dagster/asset_partition_range_start": FIRST_DAY.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}  # fmt: skip
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    pair = Pair(DEFAULT_PAIR, work_days(DEFAULT_START_DATE, Schedule()), Schedule())
    result = dg.materialize(
        [*extract_assets(pair), *transform_assets(pair)], resources=resources, instance=instance, tags=tags
    )
    seconds = time.perf_counter() - started
    steps: dict[str, float] = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            steps[entry.step_key] = -entry.timestamp
        elif event.event_type_value == "STEP_SUCCESS":
            steps[entry.step_key] += entry.timestamp
    with resources["warehouse"].get_connection() as connection:
        rows = connection.execute("select count(*) from replica.worklogs").fetchone()
    database_mb = (work / "tempo_sync.duckdb").stat().st_size / 2**20
    shutil.rmtree(work, ignore_errors=True)  # gigabytes at 1M, left behind by every run otherwise
    return {
        "size": size,
        "seconds": seconds,
        "steps": steps,
        "replica_rows": rows[0] if rows else 0,
        "peak_rss_mb": peak_rss_mb(),
        "database_mb": database_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--serve-recording", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--replay", help=argparse.SUPPRESS)
    parser.add_argument("--sandbox", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_recording:
        serve_recording(args.serve_recording, args.port, args.sandbox)
        return
    if args.measure:
        print(json.dumps(measure(args.measure, args.replay, args.sandbox)))
        return

    sizes = [int(size) for size in args.sizes.split(",")]
    options = ["--worklogs-per-day", str(RECORDED_PER_DAY), "--tempo-rate", "0", "--jira-rate", "0"]
    recording = Path(tempfile.mkdtemp(prefix="tempo-sync-recording-")) / "worklogs.json"
    with sandbox_process(options) as sandbox:
        recorded = record(sandbox.urls.source.tempo, recording)
        port = free_port()
        replay = subprocess.Popen(
            [sys.executable, __file__, "--serve-recording", str(recording), "--port", str(port),
             "--sandbox", sandbox.urls.base],
            env=with_bytecode(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(port, replay)
            print(f"extract and transform at scale: {recorded} recorded sandbox worklogs over {DAYS} work")
            print(f"dates, replayed with new ids in pages of {PAGE}; one fresh process and DuckDB file per")
            print(f"size; {os.cpu_count()} cores, Python {sys.version.split()[0]}")
            replay_url = f"http://127.0.0.1:{port}"
            results = [_measure_in_child(size, replay_url, sandbox.urls.base) for size in sizes]
        finally:
            replay.terminate()
            replay.wait(timeout=30)
            shutil.rmtree(recording.parent, ignore_errors=True)
    report(results)


def _measure_in_child(size: int, replay: str, sandbox_base: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", str(size)]
    command += ["--replay", replay, "--sandbox", sandbox_base]
    environment = with_bytecode(os.environ)
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    return json.loads(finished.stdout.strip().splitlines()[-1])


def report(results: list[dict[str, Any]]) -> None:
    print()
    header = f"{'worklogs':>10}{'seconds':>9}{'s/100k':>8}{'peak RSS MB':>13}{'DuckDB MB':>11}"
    print(header + "".join(f"{step:>23}" for step in STEPS))
    for r in results:
        per_100k = r["seconds"] / r["size"] * 100_000
        steps = "".join(f"{r['steps'].get(step, float('nan')):>23.2f}" for step in STEPS)
        print(
            f"{r['size']:>10,}{r['seconds']:>9.2f}{per_100k:>8.2f}{r['peak_rss_mb']:>13.0f}{r['database_mb']:>11.0f}{steps}"
        )
    by_size = {r["size"]: r for r in results}
    if 100_000 in by_size and 1_000_000 in by_size:
        small, large = by_size[100_000], by_size[1_000_000]
        marginal = (large["seconds"] - small["seconds"]) / 9
        print(f"\nmarginal cost from 100k to 1M: {marginal:.2f} s per 100k"
              f" ({large['seconds'] / small['seconds']:.1f}x the time for 10x the worklogs)")  # fmt: skip
    print()
    for size, limit in TARGETS.items():
        if size in by_size:
            r = by_size[size]
            met = r["seconds"] < limit and (size < 1_000_000 or r["peak_rss_mb"] < MAX_RSS_MB)
            memory = f" and peak RSS under {MAX_RSS_MB:.0f} MB" if size == 1_000_000 else ""
            print(f"{'meets' if met else 'misses'}: {size:,} worklogs in under {limit:g} s{memory}")
    for r in results:
        if r["replica_rows"] != r["size"]:
            print(f"warning: {r['size']:,} worklogs gave {r['replica_rows']:,} replica rows")


if __name__ == "__main__":
    main()
