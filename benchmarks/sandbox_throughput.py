"""How many small requests per second the sandbox serves, faults and rate limits off.

The sandbox must never be the bottleneck of the product's benchmarks, so this measures it
alone: the server runs in its own process (as ``tempo-sync sandbox serve``), the load comes
from this process over keep-alive connections on loopback. The baseline, measured in the
same run with the same client, is a bare uvicorn app answering a fixed small JSON body: the
ratio says what the sandbox's own work costs on this machine, whatever its speed today.

    uv run python benchmarks/sandbox_throughput.py [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from support import free_port, wait_for

from sandbox.config import CREDENTIALS

CLOCK = "2025-03-20T12:00:00Z"
DAY = "2025-03-05"
TARGET = 500.0  # requests per second the issue asks for


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    auth: str
    body: bytes = b""


@dataclass(frozen=True)
class Result:
    case: Case
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def request_bytes(case: Case, host: str) -> bytes:
    head = [
        f"{case.method} {case.path} HTTP/1.1",
        f"Host: {host}",
        f"Authorization: {case.auth}",
    ]
    if case.body:
        head += ["Content-Type: application/json", f"Content-Length: {len(case.body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + case.body


async def connection(port: int, payload: bytes, stop: float, result: dict[str, list]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.perf_counter() < stop:
        started = time.perf_counter()
        writer.write(payload)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        result["latencies"].append((time.perf_counter() - started) * 1000)
        result["statuses"].append(int(head.split(b" ", 2)[1]))
    writer.close()
    await writer.wait_closed()


async def measure(port: int, case: Case, seconds: float, connections: int) -> Result:
    payload = request_bytes(case, f"127.0.0.1:{port}")
    collected: dict[str, list] = {"latencies": [], "statuses": []}
    warmup_end = time.perf_counter() + min(1.0, seconds / 5)
    await asyncio.gather(
        *(connection(port, payload, warmup_end, {"latencies": [], "statuses": []}) for _ in range(2))
    )
    started = time.perf_counter()
    await asyncio.gather(
        *(connection(port, payload, started + seconds, collected) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    statuses: dict[int, int] = {}
    for status in collected["statuses"]:
        statuses[status] = statuses.get(status, 0) + 1
    return Result(case, len(collected["latencies"]), elapsed, collected["latencies"], statuses)


def start_sandbox(port: int, state_dir: Path) -> subprocess.Popen[bytes]:
    script = Path(sys.executable).parent / "tempo-sync"
    command = [
        str(script), "sandbox", "serve", "--port", str(port), "--state-dir", str(state_dir), "--reset",
        "--clock", CLOCK, "--tempo-rate", "0", "--jira-rate", "0",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_baseline(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, __file__, "--serve-baseline", str(port)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def serve_baseline(port: int) -> None:
    """A bare ASGI app behind the same uvicorn settings as the sandbox."""
    import uvicorn  # noqa: PLC0415 - only the baseline process needs it

    body = json.dumps({"accountId": "712020:baseline", "displayName": "Baseline", "active": True}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def app(scope: dict, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": body})  # type: ignore[operator]

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


def cases(admin_port: int) -> list[Case]:
    source, destination = CREDENTIALS["source"], CREDENTIALS["destination"]
    basic = "Basic " + base64.b64encode(f"{source.jira_email}:{source.jira_token}".encode()).decode()
    bearer = f"Bearer {source.tempo_token}"
    people = json.loads(_get(admin_port, "/_sandbox/people"))
    person = next(p for p in people if p["kind"] == "normal")
    page = json.loads(_get(admin_port, f"/_sandbox/sites/source/scenarios?from={DAY}&to={DAY}"))
    body = {
        "authorAccountId": person["destination"]["account_id"],
        "issueId": 20060,
        "startDate": "2025-03-18",
        "timeSpentSeconds": 900,
        "description": "benchmark",
    }
    jira, tempo, day = "/source/jira/rest/api/3", "/source/tempo/4", f"from={DAY}&to={DAY}"
    account = person["source"]["account_id"]
    return [
        Case("Jira GET /myself", "GET", f"{jira}/myself", basic),
        Case("Jira GET /user/bulk (1 id)", "GET", f"{jira}/user/bulk?accountId={account}", basic),
        Case("Tempo GET /4/worklogs (page of 1)", "GET", f"{tempo}/worklogs?{day}&limit=1", bearer),
        Case("Tempo GET /4/worklogs/{id}", "GET", f"{tempo}/worklogs/{page[0]['tempo_id']}", bearer),
        Case(
            "Tempo POST /4/worklogs (a write)", "POST", "/destination/tempo/4/worklogs",
            f"Bearer {destination.tempo_token}", json.dumps(body).encode(),
        ),
    ]  # fmt: skip


def _get(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per endpoint")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return

    state_dir = Path(tempfile.mkdtemp(prefix="sandbox-bench-"))
    sandbox_port, baseline_port = free_port(), free_port()
    servers = [start_sandbox(sandbox_port, state_dir), start_baseline(baseline_port)]
    try:
        for port, process in zip((sandbox_port, baseline_port), servers, strict=True):
            wait_for(port, process)
        print(
            f"sandbox throughput: {args.connections} keep-alive connections, {args.seconds:g} s per endpoint,"
        )
        print(f"rate limits and faults off, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
        baseline_case = Case("bare uvicorn app (baseline)", "GET", "/", "none")
        baseline = asyncio.run(measure(baseline_port, baseline_case, args.seconds, args.connections))
        results = [
            asyncio.run(measure(sandbox_port, c, args.seconds, args.connections)) for c in cases(sandbox_port)
        ]
    finally:
        for process in servers:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=15)
        shutil.rmtree(state_dir, ignore_errors=True)

    print()
    print(f"{'endpoint':<38}{'req/s':>9}{'vs baseline':>13}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for result in [baseline, *results]:
        ratio = result.rate / baseline.rate
        p50 = statistics.median(result.latencies_ms)
        p99 = statistics.quantiles(result.latencies_ms, n=100)[98]
        figures = f"{result.rate:>9.0f}{ratio:>12.2f}x{p50:>9.2f}{p99:>9.2f}"
        print(f"{result.case.name:<38}{figures}  {result.statuses}")
    slowest = min(results, key=lambda r: r.rate)
    verdict = "meets" if slowest.rate >= TARGET else "misses"
    print()
    print(f"slowest endpoint: {slowest.case.name} at {slowest.rate:.0f} req/s,", end=" ")
    print(f"{verdict} the {TARGET:.0f} req/s target")


if __name__ == "__main__":
    main()
