"""What an alert says: the facts of one finished run, read from its Dagster event log, as a message.

Only the run's own records are read (its tags, its materializations' and checks' metadata, which
steps failed and the class of their error), never the DuckDB file: a sensor must not wait for a
run's lock. No exception text goes into a message, since an HTTP error can carry a request's
headers; a failed step is named with its error's class, and the details stay in Dagster's run log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from resources.settings import DEFAULT_PAIR

RUN_FAILED = "run_failed"
CHECK_FAILED = "check_failed"
UNCONFIRMED = "unconfirmed"
PARKED_SHARE = "parked_share"
KINDS = (RUN_FAILED, CHECK_FAILED, UNCONFIRMED, PARKED_SHARE)

# How much of a check's metadata a message repeats; the rest is on the run's page.
SHOWN_ITEMS = 5
SHOWN_TEXT = 300
SHOWN_FINDINGS = 1200
# The load's failure names the unconfirmed worklogs by source Tempo id (assets/load.py); only the
# digits are taken from that text, so nothing else of it can reach a message.
_UNCONFIRMED_IDS = re.compile(r"unconfirmed.*?\(source Tempo ids ([0-9, ]+)")

_EVENTS = {
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.STEP_FAILURE,
}


@dataclass(frozen=True)
class FailedCheck:
    """A blocking check that failed: its name, its asset, the work dates, and what it found."""

    name: str
    asset: str
    partitions: tuple[str, ...]
    findings: str


@dataclass
class RunFacts:
    """What one finished run of a pair's job did, as its event log tells it."""

    run_id: str
    dates: tuple[str, str] | None
    failed_steps: list[tuple[str, str]] = field(default_factory=list)  # (step, error class)
    failed_checks: list[FailedCheck] = field(default_factory=list)
    parked: int | None = None
    rows: int | None = None  # the replica rows of the run's dates: its extracted worklogs
    parked_by_reason: dict[str, int] = field(default_factory=dict)
    top_issues: dict[str, int] = field(default_factory=dict)
    unconfirmed: int = 0
    unconfirmed_ids: list[int] = field(default_factory=list)
    pending: int = 0


@dataclass(frozen=True)
class Alert:
    """One message to send: its kind (the rate limit's unit, with the pair) and its text."""

    kind: str
    run_id: str
    text: str


def read_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunFacts:
    """The facts of a finished run, from its tags and its event log."""
    facts = RunFacts(run.run_id, _dates(run.tags))
    seen_assets: set[str] = set()
    checks: dict[str, FailedCheck] = {}
    for entry in instance.all_logs(run.run_id, of_type=_EVENTS):
        event = entry.dagster_event
        if event is None:
            continue
        data = event.event_specific_data
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = data.materialization  # type: ignore[union-attr]
            asset = materialization.asset_key.path[-1]
            # A range run repeats the same figures on each partition's materialization: count once.
            if asset not in seen_assets:
                seen_assets.add(asset)
                _from_materialization(facts, asset, _values(materialization.metadata))
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            _from_check(facts, checks, data)
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            _from_step_failure(facts, event.step_key or "?", data)
    facts.failed_checks = list(checks.values())
    return facts


def _dates(tags: dict[str, str]) -> tuple[str, str] | None:
    if "dagster/partition" in tags:
        return tags["dagster/partition"], tags["dagster/partition"]
    start, end = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    return (start, end) if start and end else None


def _values(metadata: Any) -> dict[str, Any]:
    return {name: value.value for name, value in (metadata or {}).items()}


def _from_materialization(facts: RunFacts, asset: str, metadata: dict[str, Any]) -> None:
    # The parked_share_is_low check counts the dates' rows exactly; these are the fallback when a
    # run has no such check. The transform's `parked` includes parked rows of other dates, which
    # every run retries, so it is only divided by what the extract read when nothing better exists.
    if asset == "source_worklogs" and facts.rows is None:
        facts.rows = _whole(metadata.get("dagster/partition_row_count"))
    elif asset == "worklog_replica" and facts.parked is None:
        facts.parked = _whole(metadata.get("parked"))
        facts.parked_by_reason = _counts(metadata.get("parked_by_reason"))
    elif asset == "destination_worklogs":
        facts.unconfirmed = max(facts.unconfirmed, _whole(metadata.get("unconfirmed")) or 0)


def _from_check(facts: RunFacts, checks: dict[str, FailedCheck], evaluation: Any) -> None:
    metadata = _values(evaluation.metadata)
    if evaluation.check_name == "parked_share_is_low" and "rows" in metadata:
        facts.rows = _whole(metadata["rows"])
        facts.parked = _whole(metadata.get("parked"))
        facts.parked_by_reason = _counts(metadata.get("parked_by_reason"))
        facts.top_issues = _counts(metadata.get("top_issues"))
    if evaluation.passed or not evaluation.blocking:
        return
    earlier = checks.get(evaluation.check_name)
    partitions = (
        *(earlier.partitions if earlier else ()),
        *([evaluation.partition] if evaluation.partition else []),
    )
    checks[evaluation.check_name] = FailedCheck(
        evaluation.check_name,
        evaluation.asset_key.path[-1],
        partitions,
        earlier.findings if earlier else findings(metadata),
    )


def _from_step_failure(facts: RunFacts, step: str, data: Any) -> None:
    error = getattr(data, "error", None)
    # Dagster wraps what a step raised; the class of what it raised is what names the trouble.
    while error is not None and error.cls_name == "DagsterExecutionStepExecutionError" and error.cause:
        error = error.cause
    facts.failed_steps.append((step, error.cls_name if error is not None else "unknown error"))
    user = getattr(data, "user_failure_data", None)
    if user is None or not step.endswith("destination_worklogs"):
        return
    metadata = _values(user.metadata)
    facts.unconfirmed = max(facts.unconfirmed, _whole(metadata.get("unconfirmed")) or 0)
    facts.pending = max(facts.pending, _whole(metadata.get("pending")) or 0)
    named = _UNCONFIRMED_IDS.search(user.description or "")
    if named:
        facts.unconfirmed_ids = [int(part) for part in named.group(1).replace(" ", "").split(",") if part]


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _counts(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    wholes = {str(key): _whole(count) for key, count in value.items()}
    return {key: count for key, count in wholes.items() if count is not None}


def findings(metadata: dict[str, Any]) -> str:
    """A check's metadata in one line: numbers, short texts, the first items of lists and tables."""
    parts = []
    for name, value in metadata.items():
        if name.startswith("dagster/"):
            continue
        if isinstance(value, float) and value.is_integer():
            shown = str(int(value))
        elif isinstance(value, int | float | bool):
            shown = str(value)
        elif isinstance(value, str):
            shown = value if len(value) <= SHOWN_TEXT else value[:SHOWN_TEXT] + "…"
        elif isinstance(value, list):
            shown = ", ".join(str(item) for item in value[:SHOWN_ITEMS]) or "none"
            shown += f" and {len(value) - SHOWN_ITEMS} more" if len(value) > SHOWN_ITEMS else ""
        elif isinstance(value, dict):
            shown = ", ".join(f"{key} {item}" for key, item in list(value.items())[:SHOWN_ITEMS]) or "none"
        else:
            continue  # markdown, tables: on the run's page
        parts.append(f"{name}: {shown}")
    text = "; ".join(parts) or "no details"
    return text if len(text) <= SHOWN_FINDINGS else text[:SHOWN_FINDINGS] + "…"


# The messages. Each names the pair, the work dates, what happened and what to do next.


def failure_alert(pair: str, facts: RunFacts) -> Alert:
    """The one message for a failed run: a blocking check, unconfirmed worklogs, or the failure."""
    if facts.failed_checks:
        return Alert(CHECK_FAILED, facts.run_id, _check_failed(pair, facts))
    if facts.unconfirmed:
        return Alert(UNCONFIRMED, facts.run_id, _unconfirmed(pair, facts, run_failed=True))
    return Alert(RUN_FAILED, facts.run_id, _run_failed(pair, facts))


def success_alerts(pair: str, facts: RunFacts, parked_share_above: float) -> list[Alert]:
    """The messages for a successful run: a parked share above the threshold, unconfirmed worklogs."""
    alerts = []
    if facts.parked is not None and facts.rows and facts.parked / facts.rows > parked_share_above:
        alerts.append(Alert(PARKED_SHARE, facts.run_id, _parked_share(pair, facts, parked_share_above)))
    if facts.unconfirmed:
        alerts.append(Alert(UNCONFIRMED, facts.run_id, _unconfirmed(pair, facts, run_failed=False)))
    return alerts


def _run_failed(pair: str, facts: RunFacts) -> str:
    if facts.failed_steps:
        steps = ", ".join(f"`{step}` ({error})" for step, error in facts.failed_steps)
        what = f"failed at step {steps}"
    else:
        what = "ended without finishing (its process died, or it was stopped)"
    pending = (
        f" {facts.pending} worklog(s) could not be confirmed on the destination and stay pending; the next"
        " run of these dates checks the destination before it sends anything again."
        if facts.pending
        else ""
    )
    return (
        f":x: *tempo-sync, pair `{safe(pair)}`: the run for work dates {_dates_text(facts)} {what}.*"
        f"{pending}\nNext: `{_command('status', pair)}` shows the run and its error (the full log is on the"
        f" run's page in Dagster, run `{facts.run_id}`). Once the cause is fixed, run the dates again:"
        f" `{_rerun(pair, facts)}`; nothing is sent twice."
    )


def _check_failed(pair: str, facts: RunFacts) -> str:
    checks = "\n".join(
        f"• `{check.name}` on `{check.asset}`"
        + (f" ({', '.join(check.partitions)})" if check.partitions else "")
        + f": {safe(check.findings)}"
        for check in facts.failed_checks
    )
    names = ", ".join(f"`{check.name}`" for check in facts.failed_checks)
    return (
        f":no_entry: *tempo-sync, pair `{safe(pair)}`: blocking check {names} failed for work dates"
        f" {_dates_text(facts)}, so the load sent nothing to the destination.*\n{checks}\nNext: read"
        f' {names} under "When a check fails" in docs/operations.md, and its full result on the run\'s'
        f" page in Dagster (run `{facts.run_id}`); after the fix, run the dates again:"
        f" `{_rerun(pair, facts)}`."
    )


def _unconfirmed(pair: str, facts: RunFacts, *, run_failed: bool) -> str:
    ids = facts.unconfirmed_ids[:SHOWN_ITEMS]
    more = len(facts.unconfirmed_ids) - len(ids)
    named = (
        f" Source Tempo ids: {', '.join(map(str, ids))}" + (f" and {more} more." if more else ".")
        if ids
        else ""
    )
    one = str(ids[0]) if ids else "ID"
    outcome = "The run failed because of them" if run_failed else "The run succeeded otherwise"
    return (
        f":warning: *tempo-sync, pair `{safe(pair)}`: {facts.unconfirmed} worklog(s) of work dates"
        f" {_dates_text(facts)} are unconfirmed:* the destination may already hold them in another form,"
        f" so no run sends them again until a person settles them. {outcome} (run `{facts.run_id}`).{named}"
        f"\nNext: `{_command('status', pair)}` lists them with the destination worklogs that may be their"
        f" copies; `{_command(f'trace {one}', pair)}` tells one's story; then"
        f" `{_command(f'settle {one} --adopt DESTINATION_ID', pair)}` if one of them is its copy, or"
        f" `{_command(f'settle {one} --resend', pair)}` if none is."
    )


def _parked_share(pair: str, facts: RunFacts, threshold: float) -> str:
    parked, rows = facts.parked or 0, facts.rows or 0
    reasons = ", ".join(f"{reason} {count}" for reason, count in facts.parked_by_reason.items()) or "unknown"
    issues = ", ".join(f"{issue} {count}" for issue, count in list(facts.top_issues.items())[:SHOWN_ITEMS])
    return (
        f":large_yellow_circle: *tempo-sync, pair `{safe(pair)}`: {parked} of {rows} worklogs of work"
        f" dates {_dates_text(facts)} are parked ({parked / rows:.0%}), above the alert threshold of"
        f" {threshold:.0%}.* The run succeeded (run `{facts.run_id}`). By reason: {safe(reasons)}."
        + (f" Most parked issues: {safe(issues)}." if issues else "")
        + f"\nNext: `{_command('status', pair)}`, and the check `parked_share_is_low` on the run's page,"
        " name the authors and issues; add the missing people on the destination, map issues in"
        " `[issues]` or override authors in `[authors.overrides]`. Parked worklogs are retried by every run."
    )


def _dates_text(facts: RunFacts) -> str:
    if facts.dates is None:
        return "(none recorded)"
    start, end = facts.dates
    return start if start == end else f"{start} to {end}"


def _rerun(pair: str, facts: RunFacts) -> str:
    if facts.dates is None:
        return _command("run", pair)
    return _command(f"run --from {facts.dates[0]} --to {facts.dates[1]}", pair)


def _command(arguments: str, pair: str) -> str:
    return f"tempo-sync {arguments}" + ("" if pair == DEFAULT_PAIR else f" --pair {pair}")


def safe(text: str) -> str:
    """Text for Slack's mrkdwn: its three control characters escaped as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
