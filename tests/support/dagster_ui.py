"""Start ``dagster dev`` on the code location, against the sandbox, and stop it without leftovers.

Used by the browser test (``tests/ui``) and by ``scripts/screenshots.py``. ``dagster dev`` runs from
the repository root (``workspace.yaml`` says ``working_directory: .``) with ``DAGSTER_HOME``, the
sandbox state and the DuckDB file in a directory of the caller's.

The webserver, the daemon, the code server and every run they launch start in one new session
(and process group), and stopping signals the whole session: ``dagster dev`` ignores SIGTERM when
it is started in the background without job control, so a signal to its own pid is not enough.

The helper also knows the few Dagster UI moves the test and the screenshots share (open the
asset graph with its groups expanded), and reads runs and asset checks through GraphQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
import yaml
from dotenv import dotenv_values

from tests.support.cli import REPO, clean_environment

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright drives it without a download
VIEWPORT = {"width": 1400, "height": 900}
LOCATION = "tempo_sync"
# Definitions loaded with ``@dg.definitions`` land in Dagster's default repository.
REPOSITORY = "__repository__"
JOB = "sync_worklogs"
ASSETS = (
    "source_worklogs",
    "source_directory",
    "destination_directory",
    "worklog_replica",
    "destination_worklogs",
)

# `dagster dev` takes 30-60 s to start on a 2-core machine: the webserver, the daemon and the
# code server each import Dagster, and the code server also loads the definitions and the sandbox.
START_TIMEOUT = 180.0
STOP_TIMEOUT = 20.0
# Run states after which nothing changes any more.
TERMINAL_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
# The tags Dagster puts on the runs a sensor or a schedule asks for.
AUTOMATION_TAGS = ("dagster/sensor_name", "dagster/schedule_name")
SHIPPED_INSTANCE = REPO / "dagster_home" / "dagster.yaml"

_WORKSPACE = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

_AUTOMATION = """
query Automation($location: String!, $repository: String!) {
  repositoryOrError(
    repositorySelector: {repositoryLocationName: $location, repositoryName: $repository}
  ) {
    __typename
    ... on Repository {
      sensors { name sensorState { status } }
      schedules { name scheduleState { status } }
    }
    ... on PythonError { message }
    ... on RepositoryNotFoundError { message }
  }
}
"""

_LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on UnauthorizedError { message }
    ... on PipelineNotFoundError { message }
    ... on RunConflict { message }
    ... on InvalidSubsetError { message }
  }
}
"""

_RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId
      status
      tags { key value }
      assetSelection { path }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

_CHECKS = """
{
  assetNodes {
    assetKey { path }
    assetChecksOrError {
      __typename
      ... on AssetChecks {
        checks {
          name
          executionForLatestMaterialization { runId status partition }
        }
      }
    }
  }
}
"""

_RUN_EVENTS = """
query Events($runId: ID!, $cursor: String) {
  logsForRun(runId: $runId, afterCursor: $cursor) {
    __typename
    ... on EventConnection {
      cursor
      hasMore
      events {
        __typename
        ... on AssetCheckEvaluationEvent {
          evaluation { checkName assetKey { path } success severity partition }
        }
      }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

# Stops every sensor and schedule of the code location in the instance, before `dagster dev`
# starts. The `dagster sensor stop` command does the same for one sensor it is given by name.
_STOP_AUTOMATION = """
import sys
from dagster import DagsterInstance
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

location_name, repository_name = sys.argv[1:3]
with DagsterInstance.get() as instance, WorkspaceProcessContext(
    instance, WorkspaceFileTarget(paths=["workspace.yaml"])
) as process_context:
    context = process_context.create_request_context()
    repository = context.get_code_location(location_name).get_repository(repository_name)
    for sensor in repository.get_sensors():
        instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)
        print(f"stopped sensor {sensor.name}", flush=True)
    for schedule in repository.get_schedules():
        instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)
        print(f"stopped schedule {schedule.name}", flush=True)
"""


class DagsterDevError(RuntimeError):
    """``dagster dev`` did not start, or did not do what was asked; the message ends with its log."""


@dataclass(frozen=True)
class CheckEvaluation:
    """One asset check evaluated in a run, from the run's event log."""

    asset: str
    check: str
    success: bool
    severity: str
    partition: str | None


def recent_partition(days_ago: int = 2) -> str:
    """A work date the sandbox has data for (its clock follows real time), as a partition key.

    Two days back rather than three: the freshness check allows a few days, and a run that
    crosses midnight UTC must still find the date fresh.
    """
    return (datetime.now(UTC).date() - timedelta(days=days_ago)).isoformat()


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def instance_settings(*, hold_automation: bool) -> dict[str, Any]:
    """The ``dagster.yaml`` of the temporary ``DAGSTER_HOME``.

    It is the instance the repository ships (``dagster_home/dagster.yaml``: the DuckDB pool limit),
    with telemetry off and, with ``hold_automation``, a run queue that never starts a run a sensor
    or a schedule asks for (a run concurrency limit of 0 on their tags). ``start_dagster_dev``
    stops the sensors and schedules before the daemon starts; the limit is the safety net.
    """
    shipped = SHIPPED_INSTANCE.read_text(encoding="utf-8") if SHIPPED_INSTANCE.is_file() else ""
    settings: dict[str, Any] = dict(yaml.safe_load(shipped) or {})
    settings["telemetry"] = {"enabled": False}
    if hold_automation:
        concurrency = settings.get("concurrency") or {}
        settings["concurrency"] = concurrency
        runs = concurrency.get("runs") or {}
        concurrency["runs"] = runs
        runs["tag_concurrency_limits"] = [
            *(runs.get("tag_concurrency_limits") or []),
            *({"key": tag, "limit": 0} for tag in AUTOMATION_TAGS),
        ]
    return settings


def refuse_overriding_env_file() -> None:
    """Raise if the repository's ``.env`` sets what the sandbox run depends on.

    ``dagster dev`` loads ``.env`` from the directory it starts in, over the process environment
    (the README suggests one there for live mode): with ``TEMPO_SYNC_MODE=live`` in it, the test
    would sync real sites.
    """
    env_file = REPO / ".env"
    if not env_file.is_file():
        return
    ours = ("TEMPO_SYNC_", "SOURCE_", "DEST_", "DAGSTER_")
    names = sorted(name for name in dotenv_values(env_file) if name.startswith(ours))
    if names:
        raise DagsterDevError(
            f"{env_file} sets {', '.join(names)}, and dagster dev would load it over the sandbox "
            "settings; move it away to run this"
        )


def _session_members(session_id: int) -> list[int]:
    """Pids of the live (non-zombie) processes in a session, from ``/proc`` (Linux)."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended while we looked
        # pid (comm) state ppid pgrp session ...; comm may contain spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == session_id:
            members.append(int(entry.name))
    return members


def _session_alive(session_id: int) -> bool:
    """Whether a process is left in the session (or, without ``/proc``, in its process group)."""
    if Path("/proc/self/stat").exists():
        return bool(_session_members(session_id))
    try:
        os.killpg(session_id, 0)
    except ProcessLookupError:
        return False
    return True


def end_session(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> bool:
    """End ``process``, started with ``start_new_session=True``, and everything in its session.

    SIGTERM to the process group (and to any member that moved to a group of its own), SIGKILL
    after ``timeout``. Returns whether nothing is left.
    """
    session = process.pid  # a new session's leader: its pid is the session's and group's id
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(session, sig)
        members = _session_members(session) if Path("/proc/self/stat").exists() else []
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.2)
            if process.poll() is not None and not _session_alive(session):
                return True
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=1.0)
    return process.poll() is not None and not _session_alive(session)


def _spawn(command: list[str], env: Mapping[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        cwd=REPO,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_automation(env: Mapping[str, str], log_path: Path, timeout: float = START_TIMEOUT) -> None:
    """Record every sensor and schedule of the code location as stopped in ``DAGSTER_HOME``.

    The late-worklog sensor is RUNNING by default: on a fresh instance it asks for runs of the
    last days as soon as the daemon starts, and they hold the DuckDB pool for minutes. A test of
    one manual materialization (and a screenshot) must not share the machine and the file with
    them, so they are stopped before ``dagster dev`` starts (the daemon then never ticks them).
    """
    command = [sys.executable, "-c", _STOP_AUTOMATION, LOCATION, REPOSITORY]
    with log_path.open("ab") as log:
        process = _spawn(command, env, log)
    try:
        status = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        status = None
    finally:
        end_session(process)
    if status != 0:
        tail = log_path.read_text(errors="replace")[-4000:]
        raise DagsterDevError(f"stopping the sensors and schedules failed ({status}):\n{tail}")


@dataclass
class DagsterDev:
    """A running ``dagster dev``: its URL, its process and where it logs."""

    process: subprocess.Popen[bytes]
    port: int
    home: Path
    log_path: Path
    environ: dict[str, str]
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=30.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the combined stdout/stderr of ``dagster dev``."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def fail(self, message: str) -> DagsterDevError:
        """An error naming what went wrong, with the end of the log for diagnosis."""
        return DagsterDevError(f"{message}\n--- dagster dev log (tail) ---\n{self.log_tail()}")

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of a GraphQL answer; GraphQL errors raise."""
        response = self.client.post("/graphql", json={"query": query, "variables": dict(variables or {})})
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise self.fail(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def wait_until_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until the webserver answers and the code location is loaded (raise if it failed)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise self.fail(f"dagster dev exited with status {self.process.returncode}")
            if time.monotonic() > deadline:
                raise self.fail(f"dagster dev was not ready after {timeout:.0f} s")
            try:
                if self.client.get("/server_info").status_code == 200 and self._location_loaded():
                    return
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(1.0)

    def _location_loaded(self) -> bool:
        workspace = self.graphql(_WORKSPACE)["workspaceOrError"]
        if workspace["__typename"] != "Workspace":
            return False
        for entry in workspace["locationEntries"]:
            if entry["name"] != LOCATION or entry["loadStatus"] != "LOADED":
                continue
            location = entry["locationOrLoadError"] or {}
            if location.get("__typename") == "PythonError":
                raise self.fail(f"the code location failed to load: {location['message']}")
            return location.get("__typename") == "RepositoryLocation"
        return False

    def dismiss_community_prompt(self) -> None:
        """Mark the "Join the Dagster community" dialog as seen, as its Skip button does.

        On loopback the UI opens that dialog over the first page of a fresh instance.
        """
        self.graphql("mutation { setNuxSeen }")

    def running_automation(self) -> list[str]:
        """The sensors and schedules of the code location that are running."""
        variables = {"location": LOCATION, "repository": REPOSITORY}
        repository = self.graphql(_AUTOMATION, variables)["repositoryOrError"]
        if repository["__typename"] != "Repository":
            raise self.fail(f"repository {REPOSITORY} of {LOCATION}: {repository}")
        return [
            sensor["name"] for sensor in repository["sensors"] if sensor["sensorState"]["status"] == "RUNNING"
        ] + [
            schedule["name"]
            for schedule in repository["schedules"]
            if schedule["scheduleState"]["status"] == "RUNNING"
        ]

    def launch_partition(self, partition: str) -> str:
        """Launch the sync job for one work date through GraphQL; the run's id."""
        params = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": JOB},
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
        }
        answer = self.graphql(_LAUNCH_RUN, {"params": params})["launchRun"]
        if answer["__typename"] != "LaunchRunSuccess":
            raise self.fail(f"launchRun answered {answer}")
        return str(answer["run"]["runId"])

    def run(self, run_id: str) -> dict[str, Any]:
        """The run's status, tags and asset selection, as GraphQL returns them."""
        answer = self.graphql(_RUN, {"runId": run_id})["runOrError"]
        if answer["__typename"] != "Run":
            raise self.fail(f"run {run_id}: {answer}")
        return answer

    def wait_for_run(self, run_id: str, timeout: float = 240.0) -> str:
        """Wait until the run ends; its final status (SUCCESS, FAILURE or CANCELED)."""
        deadline = time.monotonic() + timeout
        while (status := str(self.run(run_id)["status"])) not in TERMINAL_STATUSES:
            if time.monotonic() > deadline:
                raise self.fail(f"run {run_id} still {status} after {timeout:.0f} s")
            time.sleep(1.0)
        return status

    def asset_keys(self) -> list[str]:
        """The assets of the definitions (keys joined with "/"), sorted."""
        nodes = self.graphql("{ assetNodes { assetKey { path } } }")["assetNodes"]
        return sorted("/".join(node["assetKey"]["path"]) for node in nodes)

    def defined_checks(self) -> dict[str, list[str]]:
        """The asset checks of the definitions, by asset (assets without checks left out)."""
        checks: dict[str, list[str]] = {}
        for node in self.graphql(_CHECKS)["assetNodes"]:
            answer = node["assetChecksOrError"]
            if answer["__typename"] != "AssetChecks":
                raise self.fail(f"asset checks of {node['assetKey']['path']}: {answer['__typename']}")
            if answer["checks"]:
                checks["/".join(node["assetKey"]["path"])] = sorted(c["name"] for c in answer["checks"])
        return checks

    def latest_check_executions(self) -> dict[tuple[str, str], dict[str, Any] | None]:
        """Each check's execution for the latest materialization (run id, status, partition)."""
        return {
            ("/".join(node["assetKey"]["path"]), check["name"]): check["executionForLatestMaterialization"]
            for node in self.graphql(_CHECKS)["assetNodes"]
            for check in node["assetChecksOrError"].get("checks", [])
        }

    def check_evaluations(self, run_id: str) -> list[CheckEvaluation]:
        """Every asset check evaluation in the run's event log."""
        evaluations: list[CheckEvaluation] = []
        cursor: str | None = None
        while True:
            answer = self.graphql(_RUN_EVENTS, {"runId": run_id, "cursor": cursor})["logsForRun"]
            if answer["__typename"] != "EventConnection":
                raise self.fail(f"events of run {run_id}: {answer}")
            for event in answer["events"]:
                if event["__typename"] == "AssetCheckEvaluationEvent":
                    evaluation = event["evaluation"]
                    evaluations.append(
                        CheckEvaluation(
                            asset="/".join(evaluation["assetKey"]["path"]),
                            check=evaluation["checkName"],
                            success=bool(evaluation["success"]),
                            severity=str(evaluation["severity"]),
                            partition=evaluation["partition"],
                        )
                    )
            if not answer["hasMore"]:
                return evaluations
            cursor = answer["cursor"]

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop ``dagster dev`` and everything it started; raise if a process survives SIGKILL."""
        self.client.close()
        if not end_session(self.process, timeout):
            raise self.fail(f"processes of dagster dev (session {self.process.pid}) survived SIGKILL")


def start_dagster_dev(
    workdir: Path,
    *,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT,
    hold_automation: bool = True,
) -> DagsterDev:
    """Start ``dagster dev`` from the repository root with its home, sandbox and DuckDB in ``workdir``.

    With ``hold_automation`` (the default) the sensors and schedules are stopped first, so the only
    runs are the ones the caller launches (see ``stop_automation``). Returns once the code location
    is loaded. ``environ`` adds to (or overrides) the environment. On failure everything started
    is stopped again before the error is raised.
    """
    refuse_overriding_env_file()
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "dagster_home"
    home.mkdir(exist_ok=True)
    settings = instance_settings(hold_automation=hold_automation)
    (home / "dagster.yaml").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    port = port or free_port()
    env = clean_environment(
        DAGSTER_HOME=str(home),
        TEMPO_SYNC_SANDBOX_DIR=str(workdir / "sandbox"),
        TEMPO_SYNC_DUCKDB=str(workdir / "tempo_sync.duckdb"),
        **dict(environ or {}),
    )
    log_path = workdir / "dagster_dev.log"
    log_path.write_bytes(b"")
    if hold_automation:
        stop_automation(env, log_path, timeout)
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with log_path.open("ab") as log:
        process = _spawn(command, env, log)
    dev = DagsterDev(process=process, port=port, home=home, log_path=log_path, environ=env)
    try:
        dev.wait_until_ready(timeout)
        dev.dismiss_community_prompt()
        if hold_automation and (running := dev.running_automation()):
            raise dev.fail(f"sensors or schedules still running: {running}")
    except BaseException:
        dev.stop()
        raise
    return dev


@contextlib.contextmanager
def dagster_dev(workdir: Path | None = None, **options: Any) -> Iterator[DagsterDev]:
    """``start_dagster_dev`` as a context manager: always stopped on exit.

    Without ``workdir`` a temporary directory holds its home, sandbox and DuckDB file.
    """
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tempo-sync-ui-")))
        dev = start_dagster_dev(workdir, **options)
        try:
            yield dev
        finally:
            dev.stop()


def open_asset_graph(page: Page, base_url: str, *, timeout: float = 60_000) -> None:
    """Open the global asset lineage (``/asset-groups``) with every asset group expanded.

    The main navigation and the asset sidebar are hidden, so the graph gets the whole width and
    Dagster draws full asset nodes (in a narrow canvas it zooms out and shortens the names). The
    graph shows one collapsed box per group (extract, transform, load) until "Expand all groups"
    is chosen from the graph's context menu, a right-click on the empty canvas.
    """
    page.goto(f"{base_url}/asset-groups")
    page.get_by_role("button", name=re.compile(r"Materialize all")).wait_for(timeout=timeout)
    nodes = page.locator("foreignObject")
    nodes.first.wait_for(timeout=timeout)
    hide_navigation = page.get_by_role("button", name="Hide navigation")
    if hide_navigation.count():
        hide_navigation.click()
    # The sidebar's toggle, next to "Jump to…" (the navigation's own toggle is gone by now).
    page.locator("button:has([aria-label=panel_show_right])").last.click()
    first_asset = nodes.get_by_text(ASSETS[0], exact=True)
    if not first_asset.count():
        canvas = page.locator("svg").filter(has=page.locator("foreignObject")).first.bounding_box()
        if canvas is None:
            raise AssertionError("the asset graph has no visible canvas")
        # The graph is centred and the zoom controls are on the right: bottom-left is empty.
        page.mouse.click(canvas["x"] + 40, canvas["y"] + canvas["height"] - 40, button="right")
        page.get_by_role("menuitem", name="Expand all groups").click(timeout=timeout)
    first_asset.wait_for(timeout=timeout)
