"""Alerts: real runs on a Dagster instance, the alert sensors ticking over them as the daemon would,
and a real HTTP receiver on loopback standing in for Slack's incoming webhook."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from pipelines import alerts
from pipelines.alert_messages import RunFacts, failure_alert
from pipelines.alerts import alert_sensors
from resources.policy import Alerts, PolicyError, SyncPolicy
from sandbox.config import CREDENTIALS, SITES, Faults
from tests.pipeline.conftest import HarnessFactory
from tests.support.sync import SyncHarness

DAY = date(2025, 3, 5)
WEBHOOK_ENV = "TEMPO_SYNC_TEST_WEBHOOK"
# The part of a Slack webhook URL that is its secret.
WEBHOOK_SECRET = "T0ALERTS/B0ALERTS/webhook-secret-4f9c2e"
ALERTS = f'[alerts]\nwebhook_url_env = "{WEBHOOK_ENV}"\nparked_share_above = 0.2\n'
WRONG_TOKEN = "sandbox-destination-jira-token-WRONG-alerts-1b7e"


class Receiver:
    """A webhook on 127.0.0.1 that keeps every JSON body POSTed to it and answers ``status``."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.attempts = 0
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.status < 300:
                    receiver.messages.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test reads what arrived, not the server's log

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/{WEBHOOK_SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [message["text"] for message in self.messages]


class Clock:
    """The time the rate limit counts in, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Sensors:
    """The pair's alert sensors in a code location with its job, ticked as the daemon ticks them."""

    def __init__(self, harness: SyncHarness, clock: Clock, pair: str = "default") -> None:
        code_location = harness.definitions()
        (job,) = [job for job in code_location.jobs or [] if job.name == "sync_worklogs"]
        policy = SyncPolicy.from_file(Path(harness.environ["TEMPO_SYNC_CONFIG"]), source_site="source")
        self.sensors = alert_sensors(pair, job, policy, clock=clock)
        # The code location wires the same sensors; they are swapped for these, whose clock the test moves.
        names = {sensor.name for sensor in self.sensors}
        assert names <= {sensor.name for sensor in code_location.sensors or []}
        self.definitions = dg.Definitions(
            assets=code_location.assets,
            asset_checks=code_location.asset_checks,
            jobs=code_location.jobs,
            schedules=code_location.schedules,
            sensors=[*(s for s in code_location.sensors or [] if s.name not in names), *self.sensors],
            resources=code_location.resources,
            executor=code_location.executor,
            loggers=code_location.loggers,
        )
        dg.Definitions.validate_loadable(self.definitions)
        self.instance = harness.instance
        self.logged: list[str] = []
        self.cursors: dict[str, str | None] = {sensor.name: None for sensor in self.sensors}
        for name in self.cursors:
            self._tick(name)  # the first tick only starts the sensor's cursor, as with the daemon

    def tick(self) -> None:
        for name in self.cursors:
            self._tick(name)

    def _tick(self, name: str) -> None:
        sensor = self.definitions.resolve_sensor_def(name)
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursors[name]) as context:
            # What the sensor logs: the daemon keeps it with the tick; here the test keeps it.
            context.log.addHandler(_Lines(self.logged))
            data = sensor.evaluate_tick(context)
        # A sensor that raised would show here, as the error Dagster reports for the tick's run.
        assert [reaction.error for reaction in data.dagster_run_reactions if reaction.error] == []
        self.cursors[name] = data.cursor


class _Lines(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    receiver = Receiver()
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def _secrets(receiver: Receiver) -> list[str]:
    tokens = [
        value for site in SITES for value in (CREDENTIALS[site].jira_token, CREDENTIALS[site].tempo_token)
    ]
    return [*tokens, WRONG_TOKEN, receiver.url, WEBHOOK_SECRET]


def _assert_no_secret(receiver: Receiver, *texts: str) -> None:
    everything = json.dumps(receiver.messages) + "".join(texts)
    assert [secret for secret in _secrets(receiver) if secret in everything] == []


def _about(message: dict[str, Any]) -> str:
    """The message's context line: tool, pair, kind, run."""
    return str(message["blocks"][1]["elements"][0]["text"])


def _lose_answers(harness: SyncHarness, count: int) -> list[int]:
    """As if the answers to ``count`` creates were lost and someone then edited those copies on the
    destination: their ledger rows are pending without a copy id, and the copies no longer read as
    theirs. The next run of their date finds them unconfirmed (tests/pipeline/test_settle.py makes
    the same state with sandbox faults, in the full-strength test below)."""
    rows = harness.query(
        "select tempo_worklog_id, destination_tempo_worklog_id from sync.worklog_links"
        " where state = 'created' order by tempo_worklog_id limit ?",
        [count],
    )
    with harness.tempo("destination") as tempo:
        for _, copy_id in rows:
            copy = tempo.get(f"/4/worklogs/{copy_id}").json()
            tempo.put(f"/4/worklogs/{copy_id}", json={
                "authorAccountId": copy["author"]["accountId"], "startDate": copy["startDate"],
                "startTime": copy["startTime"], "timeSpentSeconds": copy["timeSpentSeconds"],
                "billableSeconds": copy["billableSeconds"], "description": "Rewritten on the destination",
            }).raise_for_status()  # fmt: skip
    with duckdb.connect(str(harness.duckdb_path)) as connection:
        connection.execute(
            "update sync.worklog_links set state = 'pending', destination_tempo_worklog_id = null,"
            " destination_jira_worklog_id = null, finished_at = null where tempo_worklog_id in"
            f" ({', '.join(str(tempo_id) for tempo_id, _ in rows)})"
        )
    return [tempo_id for tempo_id, _ in rows]


def _corrupt_ledger(harness: SyncHarness) -> None:
    """One destination worklog linked to two source worklogs: the blocking check
    no_destination_worklog_claimed_twice fails on every later run (tests/pipeline/test_checks.py)."""
    with duckdb.connect(str(harness.duckdb_path)) as connection:
        connection.execute(
            "update sync.worklog_links set destination_tempo_worklog_id ="
            " (select min(destination_tempo_worklog_id) from sync.worklog_links where state = 'created')"
            " where tempo_worklog_id = (select max(tempo_worklog_id) from sync.worklog_links)"
        )


def test_a_high_parked_share_unconfirmed_worklogs_and_a_failed_blocking_check_each_send_one_message(
    make_harness: HarnessFactory, receiver: Receiver
) -> None:
    harness = make_harness(ALERTS)
    sensors = Sensors(harness, Clock())
    assert sorted(sensor.name for sensor in sensors.sensors) == ["alerts_on_failure", "alerts_on_success"]

    # A date succeeds; a quarter of the sandbox's worklogs are parked on purpose.
    assert harness.run(DAY).success
    sensors.tick()
    (parked,) = receiver.messages
    assert _about(parked).startswith("tempo-sync · pair default · parked_share · run ")
    text = parked["text"]
    assert "pair `default`" in text
    assert "10 of 40 worklogs of work dates 2025-03-05 are parked (25%)" in text
    assert "above the alert threshold of 20%" in text
    assert "no_destination_user 2" in text
    assert "`tempo-sync status`" in text
    assert "`parked_share_is_low`" in text

    # Two creates of the first date lost their answers, and their copies were edited meanwhile.
    doubtful = _lose_answers(harness, 2)
    assert not harness.run(DAY, raise_on_error=False).success
    sensors.tick()
    assert len(receiver.messages) == 2
    assert _about(receiver.messages[1]).startswith("tempo-sync · pair default · unconfirmed · run ")
    text = receiver.messages[1]["text"]
    assert "2 worklog(s) of work dates 2025-03-05 are unconfirmed" in text
    assert "The run failed because of them" in text
    assert f"Source Tempo ids: {doubtful[0]}, {doubtful[1]}." in text
    assert f"`tempo-sync trace {doubtful[0]}`" in text
    assert f"`tempo-sync settle {doubtful[0]} --resend`" in text

    # The ledger goes wrong: the blocking check of the next run, over two dates, stops the load.
    _corrupt_ledger(harness)
    assert not harness.run(date(2025, 3, 7), date(2025, 3, 8), raise_on_error=False).success
    sensors.tick()
    assert len(receiver.messages) == 3
    assert _about(receiver.messages[2]).startswith("tempo-sync · pair default · check_failed · run ")
    text = receiver.messages[2]["text"]
    assert (
        "blocking check `no_destination_worklog_claimed_twice` failed for work dates 2025-03-07 to 2025-03-08"
        in text
    )
    assert "claimed_twice: 1" in text  # what the check's metadata says
    assert "the load sent nothing" in text
    assert "`tempo-sync run --from 2025-03-07 --to 2025-03-08`" in text
    _assert_no_secret(receiver, *sensors.logged)


def test_failures_within_the_interval_send_one_message_and_a_webhook_that_fails_stops_nothing(
    make_harness: HarnessFactory, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = make_harness(ALERTS)
    # A refused token: every run fails fast, in its preflight, on an authentication error.
    monkeypatch.setenv("DEST_JIRA_TOKEN", WRONG_TOKEN)
    monkeypatch.setattr(alerts, "RETRY_PAUSE_SECONDS", 0.05)  # the pause before the one retry
    clock = Clock()
    sensors = Sensors(harness, clock)

    # The webhook's host is down: nothing listens on its port any more.
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    closed.server_close()
    monkeypatch.setenv(WEBHOOK_ENV, f"http://127.0.0.1:{closed.server_address[1]}/services/{WEBHOOK_SECRET}")
    assert not harness.run(DAY, raise_on_error=False).success
    sensors.tick()  # the sensor goes on (Sensors asserts it did not raise)
    assert "could not send the run_failed alert" in sensors.logged[-1]
    assert "the webhook did not answer (ConnectError) (2 attempt(s))" in sensors.logged[-1]

    # The webhook answers 503.
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    receiver.status = 503
    assert not harness.run(DAY, raise_on_error=False).success
    sensors.tick()
    assert receiver.messages == []
    assert receiver.attempts == 2  # one retry after a 5xx
    assert "HTTP 503 (2 attempt(s))" in sensors.logged[-1]

    # It is back: the next failure is sent at once (nothing was delivered yet) and counts the two.
    receiver.status = 200
    assert not harness.run(DAY, raise_on_error=False).success
    sensors.tick()
    (text,) = receiver.texts()
    assert "the run for work dates 2025-03-05 failed at step `source_worklogs` (PreflightError)" in text
    assert "2 not delivered because the webhook failed" in text
    assert "`tempo-sync run --from 2025-03-05 --to 2025-03-05`" in text

    # Ten minutes later it fails again: held back, and counted.
    clock.now += 10 * 60
    assert not harness.run(DAY, raise_on_error=False).success
    sensors.tick()
    assert len(receiver.messages) == 1
    assert "held back the run_failed alert" in sensors.logged[-1]
    # An hour after the message, the next failure is sent and says what was held back.
    clock.now += 51 * 60
    assert not harness.run(DAY, raise_on_error=False).success
    sensors.tick()
    assert len(receiver.messages) == 2
    assert "1 more held back by the rate limit (one message per 60 minutes)" in receiver.texts()[1]
    assert "2 not delivered" not in receiver.texts()[1]
    _assert_no_secret(receiver, *sensors.logged)


@pytest.mark.full
def test_a_run_that_leaves_worklogs_pending_then_one_that_leaves_them_unconfirmed(
    make_harness: HarnessFactory, receiver: Receiver
) -> None:
    # Every create's answer is lost, and so is every read that would reconcile them: the first run
    # fails with its worklogs pending (tests/pipeline/test_settle.py tells the same story).
    harness = make_harness(ALERTS, faults=Faults(share_lost_post=1.0, targets=("destination/tempo",)))
    sensors = Sensors(harness, Clock())
    assert not harness.run(DAY, raise_on_error=False).success
    sensors.tick()
    (failed,) = receiver.texts()
    assert "the run for work dates 2025-03-05 failed at step `destination_worklogs` (Failure)" in failed
    assert "worklog(s) could not be confirmed on the destination and stay pending" in failed

    # Someone rewrites two copies on the destination before the rerun: they are unconfirmed.
    with harness.sandbox.admin() as admin:
        admin.set_faults()
        copies = sorted(admin.changed_worklogs("destination"), key=lambda w: w["tempo_id"])[:2]
    with harness.tempo("destination") as tempo:
        for copy in copies:
            tempo.put(f"/4/worklogs/{copy['tempo_id']}", json={
                "authorAccountId": copy["author_account_id"], "startDate": copy["start_date"],
                "startTime": copy["start_time"], "timeSpentSeconds": copy["time_spent"],
                "billableSeconds": copy["billable"], "description": "Rewritten on the destination",
            }).raise_for_status()  # fmt: skip
    assert not harness.run(DAY, raise_on_error=False).success
    sensors.tick()
    assert len(receiver.messages) == 2
    unconfirmed = sorted(i for (i,) in harness.query("select tempo_worklog_id from sync.worklog_links"
                                                     " where state = 'unconfirmed'"))  # fmt: skip
    assert "2 worklog(s) of work dates 2025-03-05 are unconfirmed" in receiver.texts()[1]
    assert f"Source Tempo ids: {', '.join(map(str, unconfirmed))}." in receiver.texts()[1]
    _assert_no_secret(receiver, *sensors.logged)


def test_a_named_pair_prefixes_its_sensors_and_its_commands() -> None:
    policy = SyncPolicy(source_site="x", alerts_webhook_url_env=WEBHOOK_ENV)
    job = dg.define_asset_job("acme_sync_worklogs")
    assert [sensor.name for sensor in alert_sensors("acme", job, policy)] == [
        "acme_alerts_on_failure", "acme_alerts_on_success",
    ]  # fmt: skip
    facts = RunFacts(
        "r1", ("2025-03-05", "2025-03-07"), [("acme__destination_worklogs", "Failure")], pending=3
    )
    alert = failure_alert("acme", facts)
    assert alert.kind == "run_failed"
    assert "pair `acme`" in alert.text
    assert "3 worklog(s) could not be confirmed on the destination and stay pending" in alert.text
    assert "`tempo-sync status --pair acme`" in alert.text
    assert "`tempo-sync run --from 2025-03-05 --to 2025-03-07 --pair acme`" in alert.text


def test_without_an_alerts_section_there_are_no_alert_sensors() -> None:
    assert alert_sensors("default", dg.define_asset_job("sync_worklogs"), SyncPolicy(source_site="x")) == []


def _problems(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as raised:
        SyncPolicy.from_file(path, source_site="x")
    return str(raised.value)


def test_the_alerts_section_refuses_a_webhook_url_in_the_file_without_repeating_it(tmp_path: Path) -> None:
    url = f"https://hooks.slack.com/services/{WEBHOOK_SECRET}"
    message = _problems(tmp_path, f'[alerts]\nwebhook_url = "{url}"\n')
    assert "[alerts] webhook_url must not be in the file: a webhook URL is a credential" in message
    assert 'webhook_url_env = "TEMPO_SYNC_ALERT_WEBHOOK"' in message
    # Pasted where the variable's name belongs, it is refused without being repeated either.
    message = _problems(tmp_path, f'[alerts]\nwebhook_url_env = "{url}"\n')
    assert "webhook_url_env must be the name of an environment variable" in message
    assert WEBHOOK_SECRET not in message


def test_the_alerts_section_names_each_fix(tmp_path: Path) -> None:
    message = _problems(tmp_path, "[alerts]\nparked_share_above = 20\nmin_interval_minutes = -5\n")
    assert "[alerts] needs webhook_url_env" in message
    assert "[alerts] parked_share_above must be a share between 0 and 1, e.g. 0.3" in message
    assert "[alerts] min_interval_minutes must be a number of minutes between 0" in message
    path = tmp_path / "good.toml"
    path.write_text(
        f'[alerts]\nwebhook_url_env = "{WEBHOOK_ENV}"\nmin_interval_minutes = 15\n', encoding="utf-8"
    )
    section = SyncPolicy.from_file(path, source_site="x").alerts
    assert section == Alerts(WEBHOOK_ENV, parked_share_above=0.3, min_interval_minutes=15)
