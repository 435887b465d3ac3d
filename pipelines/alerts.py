"""Alerts to a webhook (a Slack incoming webhook, or anything that takes its JSON), opt-in by `[alerts]`.

Dagster's run-status sensors hand each finished run of a pair's job to these sensors once (the
daemon keeps their cursors): a failed run, a failed blocking check, worklogs left unconfirmed, a
parked share above the threshold. Each kind of event is sent at most once per
`min_interval_minutes` for a pair; the others are counted, and the next message says how many were
held back. That state lives in the Dagster instance's key-value store, so it survives restarts and
works on any run storage (sqlite, Postgres).

The webhook URL is a credential: it is read from the environment variable `[alerts]
webhook_url_env` names, when a message is sent, and it never appears in a log line, a message or
Dagster's metadata. A webhook that fails is logged (its status or the error's class, never the
URL), and the sensor goes on with the next run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
import httpx

from assets.pair import named_for
from pipelines.alert_messages import Alert, failure_alert, read_run, safe, success_alerts
from resources.policy import Alerts, SyncPolicy

if TYPE_CHECKING:
    # What dg.define_asset_job returns; dagster does not export the type by name.
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

# Slack answers a webhook in well under a second; a slow answer must not hold up a sensor tick.
TIMEOUT_SECONDS = 5.0
RETRY_PAUSE_SECONDS = 1.0
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Slack refuses a section's text above 3000 characters.
SLACK_SECTION_LIMIT = 3000


def alert_sensors(
    pair: str,
    job: UnresolvedAssetJobDefinition,
    policy: SyncPolicy,
    *,
    clock: Callable[[], float] = time.time,
) -> list[dg.SensorDefinition]:
    """The alert sensors of one pair's job; none when the policy has no `[alerts]`.

    ``pair`` is the pair's name (``default`` for the single pair of the environment variables,
    whose sensors carry no prefix); ``clock`` gives the time the rate limit counts in.
    """
    settings = policy.alerts
    if settings is None:
        return []
    outbox = Outbox(pair, settings, clock)

    @dg.run_failure_sensor(
        name=named_for(pair, "alerts_on_failure"),
        monitored_jobs=[job],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Sends a message to the [alerts] webhook when a run of {job.name} fails: a failed"
        " step, a failed blocking check, or worklogs left unconfirmed.",
    )
    def on_failure(context: dg.RunFailureSensorContext) -> None:
        facts = read_run(context.instance, context.dagster_run)
        outbox.send(context, failure_alert(pair, facts))

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name=named_for(pair, "alerts_on_success"),
        monitored_jobs=[job],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Sends a message to the [alerts] webhook when a successful run of {job.name} left"
        " more than [alerts] parked_share_above of its worklogs parked, or worklogs unconfirmed.",
    )
    def on_success(context: dg.RunStatusSensorContext) -> None:
        facts = read_run(context.instance, context.dagster_run)
        for alert in success_alerts(pair, facts, settings.parked_share_above):
            outbox.send(context, alert)

    return [on_failure, on_success]


@dataclass
class Backlog:
    """One (pair, kind)'s rate-limit state: when a message last went out, and what did not since."""

    last_sent: float | None = None
    held_back: int = 0  # events the rate limit kept back
    undelivered: int = 0  # messages the webhook did not take

    @classmethod
    def parse(cls, raw: str | None) -> Backlog:
        try:
            values = json.loads(raw) if raw else {}
            return cls(
                values.get("last_sent"), int(values.get("held_back", 0)), int(values.get("undelivered", 0))
            )
        except (ValueError, TypeError, AttributeError):
            return cls()  # unreadable state: start over rather than stop alerting

    def dump(self) -> str:
        return json.dumps({"last_sent": self.last_sent, "held_back": self.held_back,
                           "undelivered": self.undelivered})  # fmt: skip

    def note(self, kind: str, minutes: float) -> str:
        """What the message adds about the events of its kind that went unsent since the last one."""
        parts = []
        if self.held_back:
            parts.append(
                f"{self.held_back} more held back by the rate limit (one message per {minutes:g} minutes)"
            )
        if self.undelivered:
            parts.append(f"{self.undelivered} not delivered because the webhook failed")
        return f"\n_Since the last `{kind}` message of this pair: {'; '.join(parts)}._" if parts else ""


class Outbox:
    """Sends a pair's alerts, at most one per kind per interval, and keeps count of the rest."""

    def __init__(self, pair: str, settings: Alerts, clock: Callable[[], float]) -> None:
        self.pair = pair
        self.settings = settings
        self.clock = clock

    def key(self, kind: str) -> str:
        return f"tempo_sync/alerts/{self.pair}/{kind}"

    def send(self, context: dg.RunStatusSensorContext, alert: Alert) -> None:
        storage = context.instance.run_storage
        key = self.key(alert.kind)
        backlog = Backlog.parse(storage.get_cursor_values({key}).get(key))
        now = self.clock()
        interval = self.settings.min_interval_minutes * 60
        label = f"the {alert.kind} alert for run {alert.run_id}"
        if backlog.last_sent is not None and now - backlog.last_sent < interval:
            backlog.held_back += 1
            storage.set_cursor_values({key: backlog.dump()})
            context.log.info(
                f"held back {label}: one {alert.kind} message per"
                f" {self.settings.min_interval_minutes:g} minutes ({backlog.held_back} held back)"
            )
            return
        text = alert.text + backlog.note(alert.kind, self.settings.min_interval_minutes)
        problem = self._post(_slack(text, self.pair, alert))
        if problem is None:
            storage.set_cursor_values({key: Backlog(last_sent=now).dump()})
            context.log.info(f"sent {label}")
            return
        backlog.undelivered += 1
        storage.set_cursor_values({key: backlog.dump()})
        context.log.warning(f"could not send {label}: {problem}; the next {alert.kind} message counts it")

    def _post(self, payload: dict[str, Any]) -> str | None:
        """None once the webhook took the message, else why not (never naming the URL)."""
        name = self.settings.webhook_url_env
        url = os.environ.get(name, "").strip()
        if not url:
            return f"the environment variable {name} (from [alerts] webhook_url_env) is not set"
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = None
        if parsed is None or not (
            parsed.scheme == "https" or (parsed.scheme == "http" and parsed.host in _LOOPBACK)
        ):
            return f"the environment variable {name} does not hold an https URL"
        attempts, problem = 1, _attempt(parsed, payload)
        # One retry for what may pass a moment later (no answer, a 5xx); a 4xx will not. A retry
        # after a lost answer may repeat a message, which is better than losing it.
        if problem is not None and problem.retry:
            time.sleep(RETRY_PAUSE_SECONDS)
            attempts, problem = 2, _attempt(parsed, payload)
        return None if problem is None else f"{problem.reason} ({attempts} attempt(s))"


@dataclass(frozen=True)
class _Problem:
    reason: str
    retry: bool


def _attempt(url: httpx.URL, payload: dict[str, Any]) -> _Problem | None:
    # The transport is called directly: httpx's client logs every request's URL at INFO, and a
    # webhook's URL is its secret. The transport neither logs the URL nor follows redirects.
    request = httpx.Request(
        "POST", url, json=payload, extensions={"timeout": httpx.Timeout(TIMEOUT_SECONDS).as_dict()}
    )
    try:
        with httpx.HTTPTransport() as transport:
            response = transport.handle_request(request)
            response.read()
            response.close()
    except httpx.TransportError as error:  # a timeout, a refused or broken connection
        return _Problem(f"the webhook did not answer ({type(error).__name__})", retry=True)
    if response.status_code < 300:
        return None
    return _Problem(f"the webhook answered HTTP {response.status_code}", retry=response.status_code >= 500)


def _slack(text: str, pair: str, alert: Alert) -> dict[str, Any]:
    """Slack's incoming-webhook JSON: ``text`` for notifications and other receivers, and blocks."""
    section = text if len(text) <= SLACK_SECTION_LIMIT else text[: SLACK_SECTION_LIMIT - 1] + "…"
    about = f"tempo-sync · pair {safe(pair)} · {alert.kind} · run {alert.run_id}"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": section}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": about}]},
        ],
    }
