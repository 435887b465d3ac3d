"""Tempo REST API v4, the worklog part, as the official OpenAPI document describes it.

Paths are the real ones below the base URL (``/4/worklogs`` ...). Where the document is
silent the sandbox takes the stricter reading and says so in ``docs/sandbox.md``:
``limit`` above 5000 is a 400 and ``orderBy`` on the GET endpoint sorts descending (as its
description says). Where it is silent and no reading is stricter (a write without a start time,
a bulk request with bad items, how an absent description looks, ...), the sandbox's ``Profile``
picks the reading, so the product can be tried under each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.config import Profile
from sandbox.context import Caller, Links, Site, caller_of, site_of
from sandbox.responses import TempoAccessError, TempoError, read_json
from sandbox.store import EstimateChange
from sandbox.timefmt import (
    clock_text,
    iso_z,
    parse_tempo_date,
    parse_tempo_time,
    parse_updated_from,
    utc_offset,
    utc_text,
)
from sandbox.world import Account, Issue, Worklog

MAX_LIMIT = 5000
MAX_BULK = 50
# Tempo mirrors the description into the Jira worklog comment, which Jira caps at this.
MAX_DESCRIPTION = 32_767
_INT64 = 2**63
_ORDER_FIELDS = ("ID", "START_DATE_TIME", "UPDATED")
_DEFAULT_ORDER = (("START_DATE_TIME", False), ("ID", False))
_QUERY_CACHE_SIZE = 8
# How a worklog without a description is rendered, where the profile does not omit the key.
_ABSENT_DESCRIPTION = {"null": None, "empty": ""}
_SORT_KEYS: dict[str, Callable[[Worklog], Any]] = {
    "ID": lambda w: w.tempo_id,
    "START_DATE_TIME": lambda w: (w.start_date, w.start_time or ""),
    "UPDATED": lambda w: w.updated_at,
}


@dataclass(frozen=True)
class WorklogQuery:
    first: date | None = None
    last: date | None = None
    updated_from: datetime | None = None
    project_ids: frozenset[int] = frozenset()
    issue_ids: frozenset[int] = frozenset()
    author_ids: frozenset[str] = frozenset()
    order: tuple[tuple[str, bool], ...] = _DEFAULT_ORDER  # (field, descending)


@dataclass(frozen=True)
class WorklogInput:
    """A validated create or update body."""

    author: Account
    issue: Issue
    start_date: date
    start_time: int | None  # seconds after midnight
    time_spent: int
    billable: int | None
    description: str | None
    remaining: int | None
    attributes: tuple[tuple[str, str], ...]


# ----- reading


async def get_worklogs(request: Request) -> Response:
    site, caller = site_of(request), caller_of(request)
    params = request.query_params
    query = WorklogQuery(
        first=_date(params.get("from"), "from"),
        last=_date(params.get("to"), "to"),
        updated_from=_updated_from(params.get("updatedFrom"), allow_millis=False),
        project_ids=_int_list(request, "projectId"),
        issue_ids=_int_list(request, "issueId"),
        order=_get_order(params.get("orderBy")),
    )
    offset, limit = _paging(request)
    return _listing(request, site, caller, query, offset, limit)


async def search_worklogs(request: Request) -> Response:
    site, caller = site_of(request), caller_of(request)
    offset, limit = _paging(request)
    body = _object(await read_json(request, TempoError))
    # The search body's schema types every field and makes none nullable: null is no "absent".
    nulls = sorted(name for name, value in body.items() if value is None)
    if nulls:
        raise TempoError(400, f"'{nulls[0]}' must not be null")
    query = WorklogQuery(
        first=_date(body.get("from"), "from"),
        last=_date(body.get("to"), "to"),
        updated_from=_body_updated_from(body),
        project_ids=frozenset(_body_list(body, "projectIds", int)),
        issue_ids=frozenset(_body_list(body, "issueIds", int)),
        author_ids=frozenset(_body_list(body, "authorIds", str)),
        order=_search_order(body.get("orderBy")),
    )
    return _listing(request, site, caller, query, offset, limit)


def _listing(
    request: Request, site: Site, caller: Caller, query: WorklogQuery, offset: int, limit: int
) -> Response:
    """A page of the query's worklogs; a query by dates alone also lists, after the worklogs, the raw
    records a test injected for those dates (``POST /_sandbox/sites/{site}/injected-worklogs``)."""
    worklogs = _run(site, caller, _checked(query))
    filtered = query.updated_from or query.project_ids or query.issue_ids or query.author_ids
    injected = [] if filtered else site.repo.injected_records(query.first, query.last)
    items = [*worklogs, *injected] if injected else worklogs  # the cached list stays as it is
    links, profile = Links.of(request), site.config.profile
    return _page(request, items, offset, limit, render=lambda item: _listed_json(item, links, profile))


def _listed_json(item: Worklog | object, links: Links, profile: Profile) -> object:
    return worklog_json(item, links, profile) if isinstance(item, Worklog) else item


async def get_worklog(request: Request) -> Response:
    site, caller = site_of(request), caller_of(request)
    worklog = _existing(site, caller, request.path_params["id"])
    return JSONResponse(worklog_json(worklog, Links.of(request), site.config.profile))


async def tempo_to_jira(request: Request) -> Response:
    return await _map_ids(request, "tempoWorklogIds", lambda repo, n: repo.worklog(n))


async def jira_to_tempo(request: Request) -> Response:
    return await _map_ids(request, "jiraWorklogIds", lambda repo, n: repo.worklog_by_jira_id(n))


async def _map_ids(request: Request, field: str, find: Callable[[Any, int], Worklog | None]) -> Response:
    site = site_of(request)
    offset, limit = _paging(request)
    body = _object(await read_json(request, TempoError))
    if field not in body:
        raise TempoError(400, f"'{field}' is required")
    ids = _body_list(body, field, int)
    if not ids:
        raise TempoError(400, f"'{field}' must contain at least one id")
    found = (find(site.repo, n) for n in dict.fromkeys(ids))
    pairs = [w for w in found if w is not None and w.tempo_id is not None]
    items = [{"jiraWorklogId": w.jira_id, "tempoWorklogId": w.tempo_id} for w in pairs]
    return _page(request, items, offset, limit)


async def get_work_attributes(request: Request) -> Response:
    site = site_of(request)
    offset, limit = _paging(request)
    links = Links.of(request)
    items = [
        {
            "self": f"{links.tempo}/4/work-attributes/{a.key}",
            "key": a.key,
            "name": a.name,
            "type": a.type,
            "required": a.required,
            **({"names": dict(a.names), "values": list(a.values)} if a.values else {}),
        }
        for a in site.repo.world.work_attributes(site.name)
    ]
    return _page(request, items, offset, limit)


async def get_permission_roles(request: Request) -> Response:
    """One team role holding the integration user, with the Tempo permissions granted.

    Whether a token that is not a Tempo administrator may read the roles is not documented; the
    profile's ``permission_roles`` can refuse it (403, Tempo's HTML page) or not find it (404).
    """
    site = site_of(request)
    mode = site.config.profile.permission_roles
    if mode == "refused":
        raise TempoAccessError(403)
    if mode == "not_found":
        raise TempoError(404, "The requested resource could not be found")
    offset, limit = _paging(request)
    links = Links.of(request)
    user = site.repo.integration_user()
    role = {
        "self": f"{links.tempo}/4/permission-roles/1",
        "id": 1,
        "name": "Sandbox worklog managers",
        "accessType": "TEAM",
        "accessEntities": [{"id": 1, "self": f"{links.tempo}/4/teams/1"}],
        "editable": True,
        "permissions": [{"key": key} for key in sorted(site.grants().tempo)],
        "permittedUsers": [_user_link(user.account_id, links)],
    }
    return _page(request, [role], offset, limit)


# ----- writing


async def create_worklog(request: Request) -> Response:
    site, caller = site_of(request), caller_of(request)
    _require_write(caller)
    body = _object(await read_json(request, TempoError))
    accounts = site.repo.directory()
    parsed = _worklog_input(site, caller, body, accounts, issue=None, remaining_allowed=True)
    now = site.repo.now()
    remaining = site.repo.remaining_after(parsed.issue, parsed.time_spent, parsed.remaining)
    change = EstimateChange(parsed.issue.id, parsed.time_spent, remaining)
    (created,) = site.repo.create([_draft(site, parsed, now)], change)
    return JSONResponse(worklog_json(created, Links.of(request), site.config.profile))


async def bulk_create_worklogs(request: Request) -> Response:
    site, caller = site_of(request), caller_of(request)
    _require_write(caller)
    issue = _path_issue(site, request.path_params["issueId"])
    body = await read_json(request, TempoError)
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_BULK:
        raise TempoError(400, f"The request body must be a list of 1 to {MAX_BULK} worklogs")
    inputs, problems = [], []
    accounts = site.repo.directory()
    for index, item in enumerate(body):
        try:
            inputs.append(
                _worklog_input(site, caller, _object(item), accounts, issue=issue, remaining_allowed=False)
            )
        except TempoError as error:
            problems.extend(f"worklogs[{index}]: {message}" for message in error.messages)
    # Whether one bad item rejects the whole request is not documented: the profile decides
    # between all or nothing and applying the good items (then answering 400 or 200).
    mode = site.config.profile.bulk_with_bad_items
    if problems and mode == "refused":
        raise TempoError(400, *problems)
    created = await _bulk_create(site, issue, inputs) if inputs else []
    if problems and mode == "applied_then_400":
        raise TempoError(400, *problems)
    links = Links.of(request)
    return JSONResponse([worklog_json(w, links, site.config.profile) for w in created])


async def _bulk_create(site: Site, issue: Issue, inputs: Sequence[WorklogInput]) -> list[Worklog]:
    """Create the worklogs, holding the issue meanwhile (another bulk on it gets a 409)."""
    seconds = site.config.bulk_item_seconds * len(inputs)
    if not site.repo.store.try_lock_issue(site.name, issue.id, seconds + 5.0):
        raise TempoError(409, "There is already a bulk action in progress for the given issue id")
    try:
        await asyncio.sleep(seconds)
        now = site.repo.now()
        spent = sum(i.time_spent for i in inputs)
        change = EstimateChange(issue.id, spent, site.repo.remaining_after(issue, spent, None))
        return site.repo.create([_draft(site, i, now) for i in inputs], change)
    finally:
        site.repo.store.unlock_issue(site.name, issue.id)


async def update_worklog(request: Request) -> Response:
    site, caller = site_of(request), caller_of(request)
    _require_write(caller)
    old = _existing(site, caller, request.path_params["id"])
    issue = site.repo.issue(old.issue_id)
    if issue is None:  # generated worklogs always sit on existing issues
        raise TempoError(404, f"The issue of worklog {old.tempo_id} no longer exists")
    body = _object(await read_json(request, TempoError))
    # WorklogUpdate has no issueId: the worklog stays on its issue, whatever the body says.
    parsed = _worklog_input(site, caller, body, site.repo.directory(), issue=issue, remaining_allowed=True)
    if site.config.profile.put_omitted_fields == "kept":
        parsed = _omitted_kept(parsed, old, body)
    draft = _draft(site, parsed, site.repo.now())
    new = draft._replace(tempo_id=old.tempo_id, jira_id=old.jira_id, created_at=old.created_at,
                         properties=old.properties)  # fmt: skip
    site.repo.replace(old, new, parsed.remaining)
    return JSONResponse(worklog_json(new, Links.of(request), site.config.profile))


def _omitted_kept(parsed: WorklogInput, old: Worklog, body: dict[str, Any]) -> WorklogInput:
    """The profile's `put_omitted_fields=kept`: the optional fields a PUT leaves out keep their old
    values, instead of the full replacement the document describes."""
    start_time = parsed.start_time
    if "startTime" not in body:
        old_time = parse_tempo_time(old.start_time)
        start_time = None if old_time is None else _seconds_of_day(old_time)
    return replace(
        parsed,
        start_time=start_time,
        description=old.description if "description" not in body else parsed.description,
        billable=old.billable if "billableSeconds" not in body else parsed.billable,
        attributes=old.attributes if "attributes" not in body else parsed.attributes,
    )


async def delete_worklog(request: Request) -> Response:
    site, caller = site_of(request), caller_of(request)
    _require_write(caller)
    worklog = _existing(site, caller, request.path_params["id"])
    site.repo.delete(worklog)
    return Response(status_code=204)


# ----- rendering


def worklog_json(worklog: Worklog, links: Links, profile: Profile) -> dict[str, object]:
    """A worklog in Tempo v4's shape (field order as recorded from the live API)."""
    body: dict[str, object] = {
        "self": f"{links.tempo}/4/worklogs/{worklog.tempo_id}",
        "tempoWorklogId": worklog.tempo_id,
        "issue": {
            "self": f"{links.jira}/rest/api/2/issue/{worklog.issue_id}",
            "id": worklog.issue_id,
        },
        "timeSpentSeconds": worklog.time_spent,
    }
    if worklog.billable is not None:
        body["billableSeconds"] = worklog.billable
    body["startDate"] = worklog.start_date
    if worklog.start_time is not None:
        body["startTime"] = _start_time_text(worklog.start_time, profile)
    body["startDateTimeUtc"] = worklog.start_utc
    if worklog.description is not None:
        body["description"] = worklog.description
    elif profile.absent_description in _ABSENT_DESCRIPTION:
        body["description"] = _ABSENT_DESCRIPTION[profile.absent_description]
    body["createdAt"] = worklog.created_at
    body["updatedAt"] = worklog.updated_at
    body["author"] = _user_link(worklog.author_account_id, links)
    body["attributes"] = {
        "self": f"{links.tempo}/4/worklogs/{worklog.tempo_id}/work-attribute-values",
        "values": [{"key": key, "value": value} for key, value in worklog.attributes],
    }
    return body


def _start_time_text(stored: str, profile: Profile) -> str:
    """Stored times are HH:mm:ss; the document's pattern also allows an unpadded hour."""
    if profile.start_time_format == "H:mm:ss" and stored.startswith("0"):
        return stored[1:]
    return stored


def _user_link(account_id: str, links: Links) -> dict[str, str]:
    return {"self": f"{links.jira}/rest/api/2/user?accountId={account_id}", "accountId": account_id}


def _page(
    request: Request,
    items: Sequence[Any],
    offset: int,
    limit: int,
    render: Callable[[Any], object] = lambda item: item,
) -> Response:
    results = items[offset : offset + limit]
    metadata: dict[str, object] = {"count": len(results), "offset": offset, "limit": limit}
    if offset + limit < len(items):
        metadata["next"] = str(request.url.include_query_params(offset=offset + limit, limit=limit))
    if offset > 0:
        previous = max(offset - limit, 0)
        metadata["previous"] = str(request.url.include_query_params(offset=previous, limit=limit))
    body = {
        "self": str(request.url),
        "metadata": metadata,
        "results": [render(item) for item in results],
    }
    return JSONResponse(body)


# ----- querying


def _checked(query: WorklogQuery) -> WorklogQuery:
    if query.first and query.last and query.first > query.last:
        raise TempoError(400, "'from' must be on or before 'to'")
    return query


def _run(site: Site, caller: Caller, query: WorklogQuery) -> list[Worklog]:
    """The query's worklogs in order; without 'view all' rights, only the caller's own."""
    own_only = None if site.grants().can_view_all_worklogs() else caller.account.account_id
    repo = site.repo
    key = (query, own_only, repo.visibility_cutoff(), repo.store.version(site.name))
    cached = site.query_cache.get(key)
    if cached is not None:
        site.query_cache.move_to_end(key)
        return cached
    if query.updated_from is not None:
        candidates = [
            w for w in repo.worklogs_updated_since(query.updated_from)
            if (query.first is None or w.start_date >= query.first.isoformat())
            and (query.last is None or w.start_date <= query.last.isoformat())
        ]  # fmt: skip
    else:
        candidates = repo.worklogs_between(query.first, query.last)
    selected = [w for w in candidates if _matches(site, query, own_only, w)]
    selected.sort(key=_SORT_KEYS["ID"])
    for name, descending in reversed(query.order):
        selected.sort(key=_SORT_KEYS[name], reverse=descending)
    site.query_cache[key] = selected
    while len(site.query_cache) > _QUERY_CACHE_SIZE:
        site.query_cache.popitem(last=False)
    return selected


def _matches(site: Site, query: WorklogQuery, own_only: str | None, worklog: Worklog) -> bool:
    if own_only is not None and worklog.author_account_id != own_only:
        return False
    if query.issue_ids and worklog.issue_id not in query.issue_ids:
        return False
    if query.author_ids and worklog.author_account_id not in query.author_ids:
        return False
    if query.project_ids:
        issue = site.repo.issue(worklog.issue_id)
        return issue is not None and issue.project.id in query.project_ids
    return True


def _existing(site: Site, caller: Caller, raw_id: str) -> Worklog:
    worklog = site.repo.worklog(int(raw_id)) if raw_id.isdigit() and len(raw_id) < 19 else None
    own_only = not site.grants().can_view_all_worklogs()
    if worklog is None or (own_only and worklog.author_account_id != caller.account.account_id):
        raise TempoError(404, f"Worklog with id {raw_id} does not exist")
    return worklog


# ----- parameters and bodies


def _paging(request: Request) -> tuple[int, int]:
    offset = _int_param(request, "offset", default=0)
    limit = _int_param(request, "limit", default=50)
    if offset < 0:
        raise TempoError(400, "'offset' must be 0 or more")
    if not 1 <= limit <= MAX_LIMIT:
        raise TempoError(400, f"'limit' must be between 1 and {MAX_LIMIT}")
    return offset, limit


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    return _parse_int(raw, name)


def _int_list(request: Request, name: str) -> frozenset[int]:
    return frozenset(_parse_int(raw, name) for raw in request.query_params.getlist(name))


def _parse_int(raw: str, name: str) -> int:
    text = raw.strip()
    if not text.lstrip("-").isdigit() or len(text) > 19:
        raise TempoError(400, f"'{name}' must be a number, not '{raw}'")
    return int(text)


def _date(raw: object, name: str) -> date | None:
    """A ``from``/``to`` date, from the query string or a search body."""
    if raw is None:
        return None
    parsed = parse_tempo_date(raw)
    if parsed is None:
        raise TempoError(400, f"'{name}' must be valid on the format: 'yyyy-MM-dd'")
    return parsed


def _updated_from(raw: object, *, allow_millis: bool) -> datetime | None:
    if raw is None:
        return None
    parsed = parse_updated_from(raw, allow_millis=allow_millis) if isinstance(raw, str) else None
    if parsed is None:
        raise TempoError(400, "'updatedFrom' must be valid on the format: 'yyyy-MM-dd['T'HH:mm:ss]['Z']'")
    return parsed


def _get_order(raw: str | None) -> tuple[tuple[str, bool], ...]:
    if raw is None:
        return _DEFAULT_ORDER
    if raw not in _ORDER_FIELDS:
        raise TempoError(400, f"'orderBy' must be one of {', '.join(_ORDER_FIELDS)}")
    # "Order results by the specified field descending" (official document).
    return ((raw, True), ("ID", False))


def _search_order(raw: object) -> tuple[tuple[str, bool], ...]:
    if raw is None:
        return _DEFAULT_ORDER
    if not isinstance(raw, list):
        raise TempoError(400, "'orderBy' must be a list of {field, order}")
    order = []
    for item in raw:
        if (
            not isinstance(item, dict)
            or item.get("field") not in _ORDER_FIELDS
            or item.get("order") not in ("ASC", "DESC")
        ):
            raise TempoError(
                400,
                f"'orderBy' items need 'field' in {list(_ORDER_FIELDS)} and 'order' ASC or DESC",
            )
        order.append((item["field"], item["order"] == "DESC"))
    return (*order, ("ID", False))


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise TempoError(400, "The request body must be a JSON object")
    return body


def _body_updated_from(body: dict[str, Any]) -> datetime | None:
    # The document's own example for this body carries milliseconds, so they are accepted.
    return _updated_from(body.get("updatedFrom"), allow_millis=True)


def _body_list(body: dict[str, Any], name: str, kind: type) -> list[Any]:
    raw = body.get(name)
    if raw is None:
        return []
    valid = isinstance(raw, list) and all(_is_int(v) if kind is int else isinstance(v, kind) for v in raw)
    if not valid:
        noun = "numbers" if kind is int else "strings"
        raise TempoError(400, f"'{name}' must be a list of {noun}")
    return raw


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64


def _path_issue(site: Site, raw: str) -> Issue:
    if not raw.isdigit() or len(raw) > 18 or int(raw) < 1:
        raise TempoError(400, f"'issueId' must be a number of 1 or more, not '{raw}'")
    issue = site.repo.issue(int(raw))
    if issue is None:
        raise TempoError(400, f"Issue with id {raw} does not exist")
    return issue


def _require_write(caller: Caller) -> None:
    if not caller.can_write:
        raise TempoAccessError(403)


def _worklog_input(  # noqa: PLR0912 - one check per field of the documented schema
    site: Site,
    caller: Caller,
    body: dict[str, Any],
    accounts: Mapping[str, Account],
    *,
    issue: Issue | None,
    remaining_allowed: bool,
) -> WorklogInput:
    """Validate a WorklogInput / WorklogUpdate / BulkWorklogInput body, reporting every problem."""
    problems: list[str] = []
    author = _author(accounts, body.get("authorAccountId"), problems)
    if issue is None:
        issue = _body_issue(site, body, problems)
    start_date = parse_tempo_date(body.get("startDate"))
    if "startDate" not in body:
        problems.append("'startDate' is required")
    elif start_date is None:
        problems.append("'startDate' must be valid on the format: 'yyyy-MM-dd'")
    start_time = None
    if body.get("startTime") is not None:
        parsed_time = parse_tempo_time(body["startTime"])
        if parsed_time is None:
            problems.append("'startTime' must be valid on the format: 'HH:mm:ss'")
        else:
            start_time = _seconds_of_day(parsed_time)
    spent = body.get("timeSpentSeconds")
    if spent is None:
        problems.append("'timeSpentSeconds' is required")
    elif not _is_int(spent) or spent < 1:
        problems.append("'timeSpentSeconds' must be a whole number greater than 0")
    billable = body.get("billableSeconds")
    if billable is not None and (not _is_int(billable) or billable < 0):
        problems.append("'billableSeconds' must be a whole number of 0 or more")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        problems.append("'description' must be a string")
    elif description is not None and len(description) > MAX_DESCRIPTION:
        problems.append(f"'description' must be at most {MAX_DESCRIPTION} characters long")
    remaining = body.get("remainingEstimateSeconds") if remaining_allowed else None
    if remaining is not None and (not _is_int(remaining) or remaining < 0):
        problems.append("'remainingEstimateSeconds' must be a whole number of 0 or more")
    bypass = body.get("bypassPeriodClosuresAndApprovals")
    if bypass is not None and not isinstance(bypass, bool):
        problems.append("'bypassPeriodClosuresAndApprovals' must be true or false")
    attributes = parse_attributes(site, body.get("attributes"), problems)
    grants = site.grants()
    if issue is not None and "WORK_ON_ISSUES" not in grants.jira:
        problems.append(f"You do not have permission to log work on issue {issue.key} (Work On Issues)")
    if (
        author is not None
        and author.account_id != caller.account.account_id
        and not grants.can_log_for_others()
    ):
        problems.append(
            "You are not allowed to log work for other users (Jira permission "
            "'io.tempo.jira__log-work-for-others' or Tempo 'permissions.worklog.manage')"
        )
    if problems or author is None or issue is None or start_date is None:
        raise TempoError(400, *problems)
    given = WorklogInput(
        author=author,
        issue=issue,
        start_date=start_date,
        start_time=start_time,
        time_spent=spent,
        billable=billable,
        description=description,
        remaining=remaining,
        attributes=attributes,
    )
    return _as_stored(given, site.config.profile)


def _seconds_of_day(at: time) -> int:
    return at.hour * 3600 + at.minute * 60 + at.second


def _as_stored(given: WorklogInput, profile: Profile) -> WorklogInput:
    """What Tempo keeps of a valid body where the document leaves it open (the profile).

    Only writes go through here: the generated data keeps its worklogs without a start time.
    """
    description = given.description
    if description is not None and profile.description_whitespace == "trimmed":
        description = description.strip() or None
    start_time = given.start_time
    if start_time is None and profile.missing_start_time == "midnight":
        # Tempo keeps every worklog as a Jira worklog too, whose `started` always has a time.
        start_time = 0
    billable = given.billable
    if billable is None and profile.billable == "defaulted":
        billable = given.time_spent
    return replace(given, description=description, start_time=start_time, billable=billable)


def _author(accounts: Mapping[str, Account], raw: object, problems: list[str]) -> Account | None:
    if raw is None:
        problems.append("'authorAccountId' is required")
        return None
    if not isinstance(raw, str) or not raw.strip():
        problems.append("'authorAccountId' must be a non-empty string")
        return None
    account = accounts.get(raw)
    if account is None:
        problems.append(f"User with accountId '{raw}' does not exist on this Jira site")
    elif account.account_type != "atlassian":
        problems.append(f"User '{raw}' is a(n) {account.account_type} account and cannot log work")
    elif not account.active:
        problems.append(f"User '{raw}' is inactive and cannot log work")
    else:
        return account
    return None


def _body_issue(site: Site, body: dict[str, Any], problems: list[str]) -> Issue | None:
    raw = body.get("issueId")
    if raw is None:
        problems.append("Issue id cannot be null.")
        return None
    if not _is_int(raw) or raw < 1:
        # Jira returns ids as strings; Tempo wants a JSON number.
        problems.append(f"'issueId' must be a number of 1 or more, not {raw!r}")
        return None
    issue = site.repo.issue(raw)
    if issue is None:
        problems.append(f"Issue with id {raw} does not exist")
    return issue


def parse_attributes(site: Site, raw: object, problems: list[str]) -> tuple[tuple[str, str], ...]:
    """Tempo's ``attributes`` (``[{key, value}]``) as stored pairs; each problem is added to ``problems``."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("'attributes' must be a list of {key, value}")
        return ()
    known = {a.key: a for a in site.repo.world.work_attributes(site.name)}
    result: list[tuple[str, str]] = []
    for item in raw:
        key = item.get("key") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(key, str) or not key or (value is not None and not isinstance(value, str)):
            problems.append("'attributes' items need a non-empty string 'key' and a string 'value'")
            continue
        attribute = known.get(key)
        if attribute is None:
            problems.append(f"Work attribute with key '{key}' does not exist")
        elif attribute.values and value not in attribute.values:
            problems.append(f"Value '{value}' is not valid for work attribute '{key}'")
        elif attribute.type == "CHECKBOX" and value not in ("true", "false"):
            problems.append(f"Work attribute '{key}' takes 'true' or 'false'")
        elif any(existing == key for existing, _ in result):
            problems.append(f"Work attribute '{key}' is given more than once")
        else:
            result.append((key, value or ""))
    return tuple(result)


def _draft(site: Site, parsed: WorklogInput, now: datetime) -> Worklog:
    """A new worklog (ids are given by the store); Jira shows the Tempo app as its author."""
    seconds = parsed.start_time or 0
    offset = utc_offset(parsed.author.time_zone, parsed.start_date, seconds // 3600)
    stamp = iso_z(now)
    return Worklog(
        tempo_id=0,
        jira_id=0,
        issue_id=parsed.issue.id,
        author_account_id=parsed.author.account_id,
        jira_author_account_id=site.repo.world.service_account(site.name).account_id,
        start_date=parsed.start_date.isoformat(),
        start_time=None if parsed.start_time is None else clock_text(parsed.start_time),
        utc_offset=offset,
        start_utc=utc_text(parsed.start_date, seconds, offset, millis=True),
        time_spent=parsed.time_spent,
        billable=parsed.billable,
        description=parsed.description,
        attributes=parsed.attributes,
        created_at=stamp,
        updated_at=stamp,
    )


ROUTES = [
    Route("/4/worklogs", get_worklogs, methods=["GET"]),
    Route("/4/worklogs", create_worklog, methods=["POST"]),
    Route("/4/worklogs/search", search_worklogs, methods=["POST"]),
    Route("/4/worklogs/tempo-to-jira", tempo_to_jira, methods=["POST"]),
    Route("/4/worklogs/jira-to-tempo", jira_to_tempo, methods=["POST"]),
    Route("/4/worklogs/issue/{issueId}/bulk", bulk_create_worklogs, methods=["POST"]),
    Route("/4/worklogs/{id}", get_worklog, methods=["GET"]),
    Route("/4/worklogs/{id}", update_worklog, methods=["PUT"]),
    Route("/4/worklogs/{id}", delete_worklog, methods=["DELETE"]),
    Route("/4/work-attributes", get_work_attributes, methods=["GET"]),
    Route("/4/permission-roles", get_permission_roles, methods=["GET"]),
]
