"""``/_sandbox``: the inspection and control surface for tests, benchmarks and people.

Not part of either emulated service and not authenticated: the sandbox only listens on
loopback. Bodies are JSON; mistakes answer 400 with ``{"error": "..."}`` naming the fix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.config import CREDENTIALS, SITES, Faults
from sandbox.context import Site
from sandbox.holds import Hold
from sandbox.permissions import save_grants
from sandbox.runtime import Sandbox
from sandbox.store import StoredWorklog
from sandbox.tempo_api import parse_attributes
from sandbox.timefmt import iso_z, parse_tempo_date, parse_tempo_time, utc_offset, utc_text
from sandbox.world import EXPECTED_OUTCOME, Account, Worklog

_ACCOUNT_FIELDS = {f.name for f in dataclasses.fields(Account)}
# What PATCH /_sandbox/sites/{site}/worklogs/{id} can change.
_EDITABLE = (
    "start_date", "start_time", "time_spent", "billable", "description", "issue_key",
    "author_account_id", "attributes",
)  # fmt: skip
_ACCOUNT_TYPES: dict[str, type | tuple[type, ...]] = {
    "account_type": str,
    "display_name": str,
    "email": (str, type(None)),
    "email_visible": bool,
    "active": bool,
    "time_zone": str,
    "locale": str,
}


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


def _site(request: Request) -> Site:
    sites = _sandbox(request).sites
    name = request.path_params["site"]
    if name not in sites:
        raise AdminError(404, f"no site {name!r}; the sites are {list(SITES)}")
    return sites[name]


async def summary(request: Request) -> Response:
    sandbox = _sandbox(request)
    origin = f"{request.url.scheme}://{request.url.netloc}"
    sites = {
        name: {
            "jira": f"{origin}/{name}/jira",
            "tempo": f"{origin}/{name}/tempo" if site.repo.has_tempo else None,
            "credentials": dataclasses.asdict(CREDENTIALS[name]),
        }
        for name, site in sandbox.sites.items()
    }
    return JSONResponse({
        "sites": sites,
        "data": _jsonable(dataclasses.asdict(sandbox.config.data)),
        "rate_limits": dataclasses.asdict(sandbox.config.rate_limits),
        "profile": sandbox.config.profile.to_json(),
        "clock": sandbox.clock.describe(),
    })  # fmt: skip


async def get_stats(request: Request) -> Response:
    return JSONResponse(_sandbox(request).stats.snapshot())


async def reset_stats(request: Request) -> Response:
    _sandbox(request).stats.reset()
    return Response(status_code=204)


async def get_faults(request: Request) -> Response:
    return JSONResponse(_sandbox(request).faults.faults.to_json())


async def put_faults(request: Request) -> Response:
    faults = _sandbox(request).faults
    body = await _json_object(request)
    try:
        faults.set(Faults.from_json(body))
    except (TypeError, ValueError) as problem:
        raise AdminError(400, str(problem)) from None
    return JSONResponse(faults.faults.to_json())


async def get_holds(request: Request) -> Response:
    return JSONResponse(_sandbox(request).holds.describe())


async def post_hold(request: Request) -> Response:
    body = await _json_object(request)
    unknown = set(body) - {"site", "service", "endpoint", "when", "count", "seconds"}
    if unknown or body.get("site") not in SITES or body.get("service") not in ("jira", "tempo"):
        raise AdminError(
            400,
            "a hold needs site (source|destination), service (jira|tempo), endpoint"
            f" and when (before|after), optionally count and seconds; got {sorted(body)}",
        )
    try:
        hold = Hold(**body)
        _sandbox(request).holds.add(hold)
    except (TypeError, ValueError) as problem:
        raise AdminError(400, f"bad hold: {problem}") from None
    return JSONResponse(hold.to_json())


async def release_holds(request: Request) -> Response:
    _sandbox(request).holds.release()
    return Response(status_code=204)


async def get_clock(request: Request) -> Response:
    return JSONResponse(_sandbox(request).clock.describe())


async def put_clock(request: Request) -> Response:
    clock = _sandbox(request).clock
    body = await _json_object(request)
    if "frozen_at" in body:
        clock.freeze(_instant(body["frozen_at"]))
    elif "advance_seconds" in body:
        clock.advance(_number(body["advance_seconds"], "advance_seconds"))
    elif body.get("real_time") is True:
        clock.follow_real_time(_number(body.get("offset_seconds", 0), "offset_seconds"))
    else:
        raise AdminError(
            400,
            'give {"frozen_at": "2025-03-10T12:00:00Z"}, {"advance_seconds": 3600} '
            'or {"real_time": true, "offset_seconds": 0}',
        )
    return JSONResponse(clock.describe())


async def changed_worklogs(request: Request) -> Response:
    site = _site(request)
    return JSONResponse([_stored_record(site, row) for row in site.repo.changed_worklogs()])


async def edit_worklog(request: Request) -> Response:
    """Change a worklog now, as its worker or a third party would: no permission checks, and the
    change shows in Tempo's ``updatedFrom`` and Jira's updated-worklog feed like any other."""
    site = _site(request)
    old = _addressed_worklog(site, request)
    body = await _json_object(request)
    unknown = sorted(set(body) - set(_EDITABLE))
    if unknown or not body:
        raise AdminError(400, f"give some of the fields {list(_EDITABLE)}; unknown: {unknown}")
    new = _edited(site, old, body)
    site.repo.replace(old, new)
    stored = site.repo.store.worklog_by_jira_id(site.name, new.jira_id)
    assert stored is not None  # just saved
    return JSONResponse(_stored_record(site, stored))


async def delete_worklog(request: Request) -> Response:
    """Delete a worklog now, as its worker or a third party would (Jira's deleted feed lists it)."""
    site = _site(request)
    site.repo.delete(_addressed_worklog(site, request))
    return Response(status_code=204)


def _addressed_worklog(site: Site, request: Request) -> Worklog:
    """The worklog the path names: by its Tempo id, or with ``?by=jira`` by its Jira id."""
    raw, by = request.path_params["worklog_id"], request.query_params.get("by", "tempo")
    if by not in ("tempo", "jira"):
        raise AdminError(400, f"by is tempo (the default) or jira, not {by!r}")
    if not raw.isdigit() or len(raw) > 18:
        raise AdminError(400, f"a worklog id is a number, not {raw!r}")
    worklog = site.repo.worklog(int(raw)) if by == "tempo" else site.repo.worklog_by_jira_id(int(raw))
    if worklog is None:
        hint = "" if site.repo.has_tempo else " (this site has no Tempo: address its worklogs with ?by=jira)"
        raise AdminError(404, f"no visible {by} worklog {raw} on {site.name}{hint}")
    return worklog


def _edited(site: Site, old: Worklog, body: dict[str, Any]) -> Worklog:  # noqa: PLR0912 - one check per field
    """The worklog with the fields the body gives, stamped now; every problem is named at once."""
    problems: list[str] = []
    directory = site.repo.directory()
    changes: dict[str, Any] = {"updated_at": iso_z(site.repo.now())}
    if "start_date" in body:
        day = parse_tempo_date(body["start_date"])
        if day is None:
            problems.append("start_date is a date like 2025-03-10")
        changes["start_date"] = body["start_date"]
    if "start_time" in body:
        at = None if body["start_time"] is None else parse_tempo_time(body["start_time"])
        if body["start_time"] is not None and at is None:
            problems.append("start_time is HH:mm:ss, or null for none")
        changes["start_time"] = None if at is None else at.isoformat()  # HH:mm:ss, as stored
    if "time_spent" in body:
        if not _whole(body["time_spent"], minimum=1):
            problems.append("time_spent is a whole number of seconds above 0")
        changes["time_spent"] = body["time_spent"]
    if "billable" in body:
        if body["billable"] is not None and not _whole(body["billable"], minimum=0):
            problems.append("billable is a whole number of seconds, or null for none")
        changes["billable"] = body["billable"]
    if "description" in body:
        if body["description"] is not None and not isinstance(body["description"], str):
            problems.append("description is a string, or null for none")
        # Jira shows the description as the comment from now on.
        changes.update(description=body["description"], comment=None)
    if "issue_key" in body:
        key = body["issue_key"]
        issue = site.repo.world.issue_by_key(site.name, key) if isinstance(key, str) else None
        if issue is None:
            problems.append(f"issue_key names no issue of {site.name}: {key!r}")
        else:
            changes["issue_id"] = issue.id  # a move keeps the worklog and its ids, as in Tempo's UI
    if "author_account_id" in body:
        author = body["author_account_id"]
        if not isinstance(author, str) or author not in directory:
            problems.append(f"author_account_id names no account of {site.name}: {author!r}")
        changes["author_account_id"] = author
        if old.jira_author_account_id == old.author_account_id:  # Jira shows the worker, not Tempo's app
            changes["jira_author_account_id"] = author
    if "attributes" in body:
        changes["attributes"] = _edited_attributes(site, body["attributes"], problems)
    if problems:
        raise AdminError(400, "; ".join(problems))
    return _restarted(old._replace(**changes), old, directory)


def _edited_attributes(site: Site, raw: object, problems: list[str]) -> tuple[tuple[str, str], ...]:
    if not site.repo.has_tempo:
        problems.append(f"{site.name} has no Tempo, so its worklogs have no work attributes")
        return ()
    if not isinstance(raw, dict):
        problems.append('attributes is an object of keys and values, like {"_Activity_": "design"}')
        return ()
    return parse_attributes(site, [{"key": key, "value": value} for key, value in raw.items()], problems)


def _restarted(new: Worklog, old: Worklog, directory: dict[str, Account]) -> Worklog:
    """A worklog whose start or worker changed starts at the worker's offset on the new local date
    and time (kept as it was where the worker's account is gone)."""
    if (new.start_date, new.start_time, new.author_account_id) == (
        old.start_date, old.start_time, old.author_account_id,
    ):  # fmt: skip
        return new
    day = date.fromisoformat(new.start_date)
    at = parse_tempo_time(new.start_time) or time(0)
    seconds = at.hour * 3600 + at.minute * 60 + at.second
    account = directory.get(new.author_account_id)
    offset = old.utc_offset if account is None else utc_offset(account.time_zone, day, seconds // 3600)
    return new._replace(utc_offset=offset, start_utc=utc_text(day, seconds, offset, millis=True))


def _whole(value: object, *, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value < 2**31


def _stored_record(site: Site, row: StoredWorklog) -> dict[str, object]:
    return {
        **worklog_record(site, row.worklog),
        "generated_day": row.generated_day,
        "deleted": row.deleted,
        "deleted_at": row.deleted_at,
    }


async def inject_worklogs(request: Request) -> Response:
    """Raw records, listed as they are among the site's Tempo worklogs of one date (docs/sandbox.md)."""
    site = _site(request)
    body = await _json_object(request)
    records = body.get("records")
    if set(body) != {"day", "records"} or not isinstance(records, list) or not records:
        raise AdminError(400, 'give {"day": "2025-03-05", "records": [any JSON values, at least one]}')
    site.repo.inject_records(_day(str(body["day"]), "day"), records)
    return JSONResponse({"injected": len(records)}, status_code=201)


async def scenarios(request: Request) -> Response:
    """Every generated worklog of a date range, with its awkward case and expected outcome."""
    site = _site(request)
    first = _day(request.query_params.get("from"), "from")
    last = _day(request.query_params.get("to"), "to")
    if not 0 <= (last - first).days <= 366:
        raise AdminError(400, "'from' must be on or before 'to', at most 366 days apart")
    cutoff = site.repo.visibility_cutoff()
    rows = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        for worklog in site.repo.world.worklogs_on(site.name, day):
            rows.append({
                **worklog_record(site, worklog),
                "scenario": worklog.scenario,
                "expected": EXPECTED_OUTCOME.get(worklog.scenario),
                "visible": worklog.created_at <= cutoff,
            })  # fmt: skip
    return JSONResponse(rows)


async def people(request: Request) -> Response:
    rows = []
    for person in _sandbox(request).world.people:
        destination = person.destination
        rows.append({
            "kind": person.kind.value,
            "source": dataclasses.asdict(person.source),
            "destination": None if destination is None else dataclasses.asdict(destination),
        })  # fmt: skip
    return JSONResponse(rows)


async def accounts(request: Request) -> Response:
    return JSONResponse([dataclasses.asdict(a) for a in _site(request).repo.directory().values()])


async def put_user(request: Request) -> Response:
    site = _site(request)
    account_id = request.path_params["account_id"]
    body = await _json_object(request)
    unknown = sorted(set(body) - _ACCOUNT_FIELDS)
    if unknown:
        raise AdminError(400, f"unknown account fields {unknown}; known: {sorted(_ACCOUNT_FIELDS)}")
    values: dict[str, Any] = {
        "account_type": "atlassian", "email": None, "email_visible": True, "active": True,
        "time_zone": "UTC", **body, "account_id": account_id,
    }  # fmt: skip
    if not isinstance(values.get("display_name"), str) or not values["display_name"]:
        raise AdminError(400, "display_name is required")
    wrong = sorted(
        name for name, kind in _ACCOUNT_TYPES.items() if name in values and not isinstance(values[name], kind)
    )
    if wrong:
        raise AdminError(400, f"wrong types for {wrong}: booleans for active and email_visible, strings else")
    if values["account_type"] not in ("atlassian", "app", "customer"):
        raise AdminError(400, "account_type is atlassian, app or customer")
    site.repo.store.save_user(site.name, account_id, Account(**values))
    return JSONResponse(values)


async def delete_user(request: Request) -> Response:
    site = _site(request)
    site.repo.store.save_user(site.name, request.path_params["account_id"], None)
    return Response(status_code=204)


async def get_permissions(request: Request) -> Response:
    return JSONResponse(_site(request).grants().to_json())


async def put_permissions(request: Request) -> Response:
    site = _site(request)
    body = await _json_object(request)
    jira, tempo = body.get("jira"), body.get("tempo")
    if not isinstance(jira, list) or not isinstance(tempo, list):
        raise AdminError(400, 'give {"jira": [keys...], "tempo": [keys...]}')
    try:
        granted = save_grants(site.repo.store, site.name, [str(k) for k in jira], [str(k) for k in tempo])
    except ValueError as problem:
        raise AdminError(400, str(problem)) from None
    return JSONResponse(granted.to_json())


async def reset(request: Request) -> Response:
    sandbox = _sandbox(request)
    sandbox.store.reset(list(sandbox.sites))
    for site in sandbox.sites.values():
        site.query_cache.clear()
    sandbox.stats.reset()
    return Response(status_code=204)


def _guarded(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except AdminError as error:
            return JSONResponse({"error": str(error)}, status_code=error.status)

    return run


_ROUTES = (
    ("/", "GET", summary),
    ("/stats", "GET", get_stats),
    ("/stats", "DELETE", reset_stats),
    ("/faults", "GET", get_faults),
    ("/faults", "PUT", put_faults),
    ("/holds", "GET", get_holds),
    ("/holds", "POST", post_hold),
    ("/holds", "DELETE", release_holds),
    ("/clock", "GET", get_clock),
    ("/clock", "PUT", put_clock),
    ("/people", "GET", people),
    ("/reset", "POST", reset),
    ("/sites/{site}/worklogs", "GET", changed_worklogs),
    ("/sites/{site}/worklogs/{worklog_id}", "PATCH", edit_worklog),
    ("/sites/{site}/worklogs/{worklog_id}", "DELETE", delete_worklog),
    ("/sites/{site}/injected-worklogs", "POST", inject_worklogs),
    ("/sites/{site}/scenarios", "GET", scenarios),
    ("/sites/{site}/accounts", "GET", accounts),
    ("/sites/{site}/users/{account_id}", "PUT", put_user),
    ("/sites/{site}/users/{account_id}", "DELETE", delete_user),
    ("/sites/{site}/permissions", "GET", get_permissions),
    ("/sites/{site}/permissions", "PUT", put_permissions),
)


def build_admin(sandbox: Sandbox) -> Starlette:
    """The Starlette app served under ``/_sandbox``."""
    app = Starlette(
        routes=[Route(path, _guarded(handler), methods=[method]) for path, method, handler in _ROUTES]
    )
    app.state.sandbox = sandbox
    return app


def worklog_record(site: Site, worklog: Worklog) -> dict[str, object]:
    """Every field of a worklog, named plainly, with the issue key beside its id."""
    issue = site.repo.issue(worklog.issue_id)
    record: dict[str, object] = dict(worklog._asdict())
    record.pop("scenario")
    record["issue_key"] = None if issue is None else issue.key
    record["attributes"] = dict(worklog.attributes)
    record["properties"] = dict(worklog.properties)
    return record


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise AdminError(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise AdminError(400, "the body must be a JSON object")
    return body


def _instant(raw: object) -> datetime:
    try:
        instant = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise AdminError(400, f"{raw!r} is not an ISO 8601 instant like 2025-03-10T12:00:00Z") from None
    if instant.tzinfo is None:
        raise AdminError(400, f"{raw!r} needs a time zone, e.g. a trailing Z")
    return instant


def _number(raw: object, name: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise AdminError(400, f"{name} must be a number of seconds")
    return float(raw)


def _day(raw: str | None, name: str) -> date:
    try:
        return date.fromisoformat(raw or "")
    except ValueError:
        raise AdminError(400, f"'{name}' must be a date like 2025-03-10") from None


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}
