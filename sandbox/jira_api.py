"""Jira Cloud platform REST API v3, the parts tempo-sync uses.

Ids are strings, ``started`` is ``yyyy-MM-dd'T'HH:mm:ss.SSS+HHMM`` (a ``Z`` is a 400),
comments are Atlassian Document Format, user search is a prefix match over active users
returning a bare array, and emails only show (and only match) where the user lets them.
Tempo's app permissions exist only on a site with Tempo. The sandbox's ``Profile`` picks the
reading where the document is silent: JQL naming missing issues, the offset of ``started``,
properties sent with a new worklog, and whether Jira knows Tempo's permission keys at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.config import Profile
from sandbox.context import Caller, Links, Site, caller_of, site_of
from sandbox.jql import JqlError, parse
from sandbox.permissions import JIRA_PERMISSIONS, is_app_permission
from sandbox.responses import JiraError, read_json
from sandbox.store import EstimateChange
from sandbox.timefmt import (
    epoch_ms,
    format_jira_duration,
    iso_z,
    jira_timestamp,
    parse_iso_z,
    parse_jira_duration,
    parse_jira_started,
    utc_text,
)
from sandbox.world import SOURCE_ISSUE_FIELD, Account, Issue, Worklog

_ISSUE_MISSING = "Issue does not exist or you do not have permission to see it."
_USER_MISSING = "Specified user does not exist or you do not have required permissions"
_MAX_SEARCH_RESULTS = 5000  # when only id and key are asked for
_MAX_SEARCH_RESULTS_WITH_FIELDS = 100
_MAX_BULK_USERS = 200
_MAX_USER_SEARCH = 1000
_MAX_WORKLOGS_PAGE = 5000
_MAX_COMMENT = 32_767
_MAX_PROPERTY_BYTES = 32_768
_ALL_FIELDS = (
    "summary", "project", "issuetype", "timetracking", "timeoriginalestimate", "timeestimate",
    "timespent", SOURCE_ISSUE_FIELD,
)  # fmt: skip
_MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_ADJUST_ESTIMATE = ("new", "leave", "manual", "auto")
_FEED_PAGE = 1000
# The change feeds "do not return worklogs updated [deleted] during the minute preceding the request".
_FEED_DELAY_MS = 60_000
_MAX_LISTED_WORKLOGS = 1000
# One entry of a change feed: (change time in epoch ms, Jira worklog id, properties).
_Change = tuple[int, int, list[dict[str, object]]]


# ----- users and permissions


async def get_myself(request: Request) -> Response:
    return JSONResponse(user_json(caller_of(request).account, Links.of(request)))


async def get_my_permissions(request: Request) -> Response:
    site = site_of(request)
    params = request.query_params
    raw = params.get("permissions", "")
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if not keys:
        raise JiraError(
            400,
            ["The 'permissions' query parameter is required: a comma-separated list of permission keys."],
        )
    unknown = [key for key in keys if key not in _known_permissions(site)]
    if unknown:
        raise JiraError(400, [f"Invalid permission keys: {', '.join(unknown)}"])
    _permission_scope(site, params)
    granted = site.grants().jira
    permissions = {}
    for key in keys:
        permission_id, name, kind, description = JIRA_PERMISSIONS[key]
        permissions[key] = {
            "id": permission_id,
            "key": key,
            "name": name,
            "type": kind,
            "description": description,
            "havePermission": key in granted,
        }
    return JSONResponse({"permissions": permissions})


def _known_permissions(site: Site) -> list[str]:
    """The keys this site's Jira knows: an app's permissions exist only where the app is installed,
    and the profile can make Jira not know Tempo's (the app's keys under other names)."""
    apps_known = site.repo.has_tempo and site.config.profile.jira_app_permissions == "where_installed"
    return [key for key in JIRA_PERMISSIONS if apps_known or not is_app_permission(key)]


def _permission_scope(site: Site, params: Any) -> None:
    """Refuse a project or issue that does not exist, as Jira does (grants are site-wide)."""
    project = params.get("projectKey") or params.get("projectId")
    if project is not None and not any(
        project.upper() == p.key or project == str(p.id) for p in site.repo.world.projects[site.name]
    ):
        raise JiraError(404, [f"No project could be found with key or id '{project}'."])
    issue = params.get("issueKey") or params.get("issueId")
    if issue is not None and site.repo.issue_by_id_or_key(issue) is None:
        raise JiraError(404, [_ISSUE_MISSING])


async def get_user(request: Request) -> Response:
    site = site_of(request)
    _require_user_picker(site)
    account_id = request.query_params.get("accountId")
    if not account_id:
        raise JiraError(400, ["The query parameter 'accountId' is required."])
    account = site.repo.account(account_id)
    if account is None:
        raise JiraError(404, [_USER_MISSING])
    return JSONResponse(user_json(account, Links.of(request)))


async def get_users_bulk(request: Request) -> Response:
    site = site_of(request)
    links = Links.of(request)
    ids = list(dict.fromkeys(request.query_params.getlist("accountId")))
    if not ids:
        raise JiraError(400, ["The query parameter 'accountId' is required."])
    start_at = _int_query(request, "startAt", 0, minimum=0)
    max_results = min(_int_query(request, "maxResults", 10, minimum=1), _MAX_BULK_USERS)
    directory = site.repo.directory()
    found = [directory[i] for i in ids if i in directory]
    page = found[start_at : start_at + max_results]
    is_last = start_at + max_results >= len(found)
    body: dict[str, object] = {"self": str(request.url)}
    if not is_last:
        body["nextPage"] = str(request.url.include_query_params(startAt=start_at + max_results))
    body.update(
        maxResults=max_results,
        startAt=start_at,
        total=len(found),
        isLast=is_last,
        values=[user_json(account, links) for account in page],
    )
    return JSONResponse(body)


async def search_users(request: Request) -> Response:
    site = site_of(request)
    params = request.query_params
    query, account_id = params.get("query"), params.get("accountId")
    if params.get("property") is not None:
        raise JiraError(400, ["The sandbox does not support searching users by 'property'."])
    if query is None and account_id is None:
        raise JiraError(400, ["One of 'accountId', 'query' or 'property' must be provided."])
    if query is not None and account_id is not None:
        raise JiraError(400, ["'query' and 'accountId' cannot be provided together."])
    start_at = _int_query(request, "startAt", 0, minimum=0)
    max_results = min(_int_query(request, "maxResults", 50, minimum=0), _MAX_USER_SEARCH)
    if "USER_PICKER" not in site.grants().jira:  # no error, just nothing (documented)
        return JSONResponse([])
    matches = [
        account
        for account in site.repo.directory().values()
        if account.active
        and (account.account_id == account_id if account_id is not None else _matches(account, query or ""))
    ]
    matches.sort(key=lambda account: (account.display_name.lower(), account.account_id))
    links = Links.of(request)
    return JSONResponse([user_json(a, links) for a in matches[start_at : start_at + max_results]])


def _matches(account: Account, query: str) -> bool:
    """Prefix match on the display name, any of its words, or a visible email address."""
    wanted = query.strip().lower()
    name = account.display_name.lower()
    if name.startswith(wanted) or any(word.startswith(wanted) for word in name.split()):
        return True
    return bool(account.email_visible and account.email and account.email.lower().startswith(wanted))


def _require_user_picker(site: Site) -> None:
    if "USER_PICKER" not in site.grants().jira:
        raise JiraError(403, ["You do not have the 'Browse users and groups' global permission."])


def user_json(account: Account, links: Links) -> dict[str, object]:
    body: dict[str, object] = {
        "self": f"{links.jira}/rest/api/3/user?accountId={account.account_id}",
        "accountId": account.account_id,
        "accountType": account.account_type,
    }
    if account.email_visible and account.email:
        body["emailAddress"] = account.email
    body.update(
        avatarUrls=_avatars(account, links),
        displayName=account.display_name,
        active=account.active,
        timeZone=account.time_zone,
        locale=account.locale,
    )
    return body


def _user_details(account: Account | None, account_id: str, links: Links) -> dict[str, object]:
    """Jira's UserDetails: an author inside a worklog (deleted users keep only their id)."""
    if account is None:
        return {
            "self": f"{links.jira}/rest/api/3/user?accountId={account_id}",
            "accountId": account_id,
            "displayName": "Former user",
            "active": False,
            "accountType": "atlassian",
        }
    body = user_json(account, links)
    body.pop("locale")
    return body


def _avatars(account: Account, links: Links) -> dict[str, str]:
    base = f"{links.jira}/secure/useravatar?ownerId={account.account_id}"
    return {f"{n}x{n}": f"{base}&size={n}" for n in (48, 24, 16, 32)}


# ----- issues and search


async def get_issue(request: Request) -> Response:
    site = site_of(request)
    issue = _issue(site, request.path_params["issueIdOrKey"])
    fields = _requested_fields(request.query_params.getlist("fields"), default=("*all",))
    return JSONResponse(issue_json(site, issue, fields, Links.of(request)))


async def search_jql_get(request: Request) -> Response:
    params = request.query_params
    return _search(
        request,
        jql=params.get("jql", ""),
        token=params.get("nextPageToken"),
        max_results=_int_query(request, "maxResults", 50, minimum=0),
        fields=params.getlist("fields"),
    )


async def search_jql_post(request: Request) -> Response:
    body = await read_json(request, JiraError)
    if not isinstance(body, dict):
        raise JiraError(400, ["The request body must be a JSON object."])
    jql, token, max_results, fields = (
        body.get("jql", ""), body.get("nextPageToken"), body.get("maxResults", 50), body.get("fields", []),
    )  # fmt: skip
    if not isinstance(jql, str) or (token is not None and not isinstance(token, str)):
        raise JiraError(400, ["'jql' and 'nextPageToken' must be strings."])
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 0:
        raise JiraError(400, ["'maxResults' must be a whole number of 0 or more."])
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise JiraError(400, ["'fields' must be a list of field names."])
    return _search(request, jql=jql, token=token, max_results=max_results, fields=fields)


def _search(
    request: Request, *, jql: str, token: str | None, max_results: int, fields: Sequence[str]
) -> Response:
    site = site_of(request)
    wanted = _requested_fields(fields, default=("id",))
    try:
        query = parse(
            jql,
            site.repo.issues(),
            site.repo.world.projects[site.name],
            has_source_field=site.name == "destination",
            missing_values=site.config.profile.jql_missing_keys,
        )
    except JqlError as error:
        raise JiraError(400, list(error.messages)) from None
    issues = query.run(site.repo.issues()) if "BROWSE_PROJECTS" in site.grants().jira else []
    only_ids = wanted <= {"id", "key"}
    limit = min(max_results, _MAX_SEARCH_RESULTS if only_ids else _MAX_SEARCH_RESULTS_WITH_FIELDS)
    offset = _read_token(token, jql)
    page = issues[offset : offset + limit]
    links = Links.of(request)
    body: dict[str, object] = {"issues": [issue_json(site, i, wanted, links) for i in page]}
    if offset + limit < len(issues):
        body["nextPageToken"] = _make_token(offset + limit, jql)
    body["isLast"] = offset + limit >= len(issues)
    return JSONResponse(body)


def _make_token(offset: int, jql: str) -> str:
    payload = json.dumps({"o": offset, "q": hashlib.sha256(jql.encode()).hexdigest()[:16]})
    return base64.urlsafe_b64encode(payload.encode()).decode()


def _read_token(token: str | None, jql: str) -> int:
    if token is None:
        return 0
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = payload["o"]
        same_query = payload["q"] == hashlib.sha256(jql.encode()).hexdigest()[:16]
    except (ValueError, KeyError, TypeError):
        same_query, offset = False, 0
    if not same_query or not isinstance(offset, int) or offset < 0:
        raise JiraError(
            400,
            ["The provided next page token is invalid or expired, or belongs to another query."],
        )
    return offset


def _requested_fields(raw: Iterable[str], default: Sequence[str]) -> set[str]:
    """Jira's `fields`: names, *all, *navigable, -excluded; comma lists or repeats."""
    names = [name.strip() for item in raw for name in item.split(",") if name.strip()] or list(default)
    chosen: set[str] = set()
    for name in names:
        if name in ("*all", "*navigable"):
            chosen.update(_ALL_FIELDS)
            chosen.add("key")
        elif not name.startswith("-"):
            chosen.add(name)
    chosen.difference_update(name[1:] for name in names if name.startswith("-"))
    chosen.add("id")
    return chosen


def issue_json(site: Site, issue: Issue, wanted: set[str], links: Links) -> dict[str, object]:
    if wanted == {"id"}:
        return {"id": str(issue.id)}
    original, remaining, spent = site.repo.time_tracking(issue)
    project = issue.project
    available: dict[str, object] = {
        "summary": issue.summary,
        "project": {
            "self": f"{links.jira}/rest/api/3/project/{project.id}",
            "id": str(project.id),
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": False,
            "avatarUrls": {
                f"{n}x{n}": f"{links.jira}/secure/projectavatar?pid={project.id}&size={n}"
                for n in (48, 24, 16, 32)
            },
        },
        "issuetype": {
            "self": f"{links.jira}/rest/api/3/issuetype/10001",
            "id": "10001",
            "name": "Task",
            "subtask": False,
        },
        "timetracking": _time_tracking(original, remaining, spent),
        "timeoriginalestimate": original,
        "timeestimate": remaining,
        "timespent": spent or None,
    }
    if site.name == "destination":
        available[SOURCE_ISSUE_FIELD] = issue.source_key
    fields = {name: value for name, value in available.items() if name in wanted}
    return {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": str(issue.id),
        "self": f"{links.jira}/rest/api/3/issue/{issue.id}",
        "key": issue.key,
        "fields": fields,
    }


def _time_tracking(original: int | None, remaining: int | None, spent: int) -> dict[str, object]:
    body: dict[str, object] = {}
    if original is not None:
        body.update(originalEstimate=format_jira_duration(original), originalEstimateSeconds=original)
    if remaining is not None:
        body.update(remainingEstimate=format_jira_duration(remaining), remainingEstimateSeconds=remaining)
    if spent:
        body.update(timeSpent=format_jira_duration(spent), timeSpentSeconds=spent)
    return body


def _issue(site: Site, id_or_key: str) -> Issue:
    issue = site.repo.issue_by_id_or_key(id_or_key)
    if issue is None or "BROWSE_PROJECTS" not in site.grants().jira:
        raise JiraError(404, [_ISSUE_MISSING])
    return issue


# ----- worklogs


async def get_issue_worklogs(request: Request) -> Response:
    site = site_of(request)
    issue = _issue(site, request.path_params["issueIdOrKey"])
    start_at = _int_query(request, "startAt", 0, minimum=0, status=404)
    max_results = min(
        _int_query(request, "maxResults", _MAX_WORKLOGS_PAGE, minimum=0, status=404),
        _MAX_WORKLOGS_PAGE,
    )
    after = _int_query(request, "startedAfter", None, minimum=0)
    before = _int_query(request, "startedBefore", None, minimum=0)
    # The bounds are instants; a day either side covers every worker's time zone.
    first = None if after is None else _utc_day(after) - timedelta(days=1)
    last = None if before is None else _utc_day(before) + timedelta(days=1)
    worklogs = [
        w for w in site.repo.worklogs_of_issue(issue.id, first, last)
        if (after is None or _started_ms(w) >= after) and (before is None or _started_ms(w) <= before)
    ]  # fmt: skip
    worklogs.sort(key=lambda w: (_started_ms(w), w.jira_id))
    expand = _expand(request)
    links = Links.of(request)
    page = worklogs[start_at : start_at + max_results]
    directory = site.repo.directory()
    profile = site.config.profile
    return JSONResponse({
        "startAt": start_at,
        "maxResults": max_results,
        "total": len(worklogs),
        "worklogs": [worklog_json(w, directory, links, profile, properties=expand) for w in page],
    })  # fmt: skip


async def get_issue_worklog(request: Request) -> Response:
    site = site_of(request)
    worklog = _worklog(site, request.path_params["issueIdOrKey"], request.path_params["id"])
    body = worklog_json(
        worklog, site.repo.directory(), Links.of(request), site.config.profile, properties=_expand(request)
    )
    return JSONResponse(body)


async def add_worklog(request: Request) -> Response:
    site, caller = site_of(request), caller_of(request)
    issue = _issue(site, request.path_params["issueIdOrKey"])
    params = request.query_params
    _check_flags(params)
    body = await read_json(request, JiraError)
    if not isinstance(body, dict):
        raise JiraError(400, ["The request body must be a JSON object (a worklog)."])
    draft = _worklog_draft(site, caller, issue, body)
    remaining = _adjusted_estimate(site, issue, params, operation="create", auto_delta=-draft.time_spent)
    (created,) = site.repo.create([draft], EstimateChange(issue.id, draft.time_spent, remaining))
    body_json = worklog_json(
        created, site.repo.directory(), Links.of(request), site.config.profile, properties=_expand(request)
    )
    return JSONResponse(body_json, status_code=201)


async def update_worklog(request: Request) -> Response:
    """Change the fields the body gives; on a site with Tempo the Tempo worklog is the same one."""
    site, caller = site_of(request), caller_of(request)
    issue, old = _issue_worklog(site, request.path_params["issueIdOrKey"], request.path_params["id"])
    params = request.query_params
    _check_flags(params)
    body = await read_json(request, JiraError)
    if not isinstance(body, dict):
        raise JiraError(400, ["The request body must be a JSON object (a worklog)."])
    _require_worklog_right(site, caller, old, "EDIT")
    new = _updated(site, old, _worklog_body(site, body, creating=False))
    # auto: "updates the estimate by the difference between the original and updated" time spent.
    auto_delta = old.time_spent - new.time_spent
    remaining = _adjusted_estimate(site, issue, params, operation="update", auto_delta=auto_delta)
    site.repo.replace(old, new, remaining)
    body_json = worklog_json(
        new, site.repo.directory(), Links.of(request), site.config.profile, properties=_expand(request)
    )
    return JSONResponse(body_json)


async def delete_worklog(request: Request) -> Response:
    """Delete the worklog (and, on a site with Tempo, the Tempo worklog, which is the same one)."""
    site, caller = site_of(request), caller_of(request)
    issue, worklog = _issue_worklog(site, request.path_params["issueIdOrKey"], request.path_params["id"])
    params = request.query_params
    _check_flags(params)
    _require_worklog_right(site, caller, worklog, "DELETE")
    # What auto does on a delete is a profile switch: Jira gives the time back to the estimate,
    # while the document's words for auto are the create's ("reduces the estimate").
    sign = 1 if site.config.profile.delete_auto_estimate == "increased" else -1
    remaining = _adjusted_estimate(
        site, issue, params, operation="delete", auto_delta=sign * worklog.time_spent
    )
    site.repo.delete(worklog, remaining)
    return Response(status_code=204)


def _check_flags(params: Any) -> None:
    for flag in ("notifyUsers", "overrideEditableFlag"):
        if params.get(flag, "true").lower() not in ("true", "false"):
            raise JiraError(400, [f"'{flag}' must be true or false."])


def _require_worklog_right(site: Site, caller: Caller, worklog: Worklog, action: str) -> None:
    """Edit (or delete) all worklogs, or own worklogs for one Jira shows the caller as author of;
    a worklog Tempo made has the Tempo app as its Jira author, so it needs the "all" key."""
    granted = site.grants().jira
    own = worklog.jira_author_account_id == caller.account.account_id
    if f"{action}_ALL_WORKLOGS" in granted or (own and f"{action}_OWN_WORKLOGS" in granted):
        return
    verb = "update" if action == "EDIT" else "delete"
    raise JiraError(400, [f"You do not have the permission to {verb} this worklog."])


@dataclass(frozen=True)
class _WorklogBody:
    """A validated Jira worklog body; None where the body leaves a field out."""

    started: tuple[date, time, str] | None  # local date, local time, +HHMM offset
    spent: int | None
    comment: dict[str, Any] | None
    properties: tuple[tuple[str, str], ...] | None


def _worklog_body(site: Site, body: dict[str, Any], *, creating: bool) -> _WorklogBody:  # noqa: PLR0912 - one check per field
    """Check a create (``started`` and a time required) or update body, naming every bad field."""
    errors: dict[str, str] = {}
    started = body.get("started")
    parsed = parse_jira_started(started) if isinstance(started, str) else None
    if started is None:
        if creating:
            errors["started"] = "Date started is required."
    elif parsed is None:
        errors["started"] = (
            "Invalid date format. Please enter the date in the format \"yyyy-MM-dd'T'HH:mm:ss.SSSZ\"."
        )
    seconds, text = body.get("timeSpentSeconds"), body.get("timeSpent")
    spent = None
    if seconds is not None and text is not None:
        errors["timeLogged"] = "Give either 'timeSpent' or 'timeSpentSeconds', not both."
    elif seconds is not None:
        if isinstance(seconds, int) and not isinstance(seconds, bool) and 0 < seconds < 2**31:
            spent = seconds
        else:
            errors["timeLogged"] = "Time spent must be a whole number of seconds greater than 0."
    elif isinstance(text, str) and (parsed_text := parse_jira_duration(text)):
        spent = parsed_text
    elif text is not None or creating:
        errors["timeLogged"] = "You must indicate the time spent working."
    comment = body.get("comment")
    if comment is not None:
        if not _is_adf(comment):
            errors["comment"] = (
                "Comment: Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            )
        elif len(json.dumps(comment)) > _MAX_COMMENT:
            errors["comment"] = f"The comment is longer than {_MAX_COMMENT} characters."
    raw_properties = body.get("properties")
    properties = None if raw_properties is None else _body_properties(raw_properties, errors)
    visibility = body.get("visibility")
    if visibility is not None and not (
        isinstance(visibility, dict) and visibility.get("type") in ("group", "role")
    ):
        errors["visibility"] = "Visibility must have a 'type' of 'group' or 'role'."
    if errors:
        raise JiraError(400, [], errors)
    if site.config.profile.worklog_properties == "dropped":  # checked, then silently not kept
        properties = None
    return _WorklogBody(parsed, spent, comment, properties)


def _worklog_draft(site: Site, caller: Caller, issue: Issue, body: dict[str, Any]) -> Worklog:
    if "WORK_ON_ISSUES" not in site.grants().jira:
        raise JiraError(400, ["You do not have the permission to log work on this issue (Work On Issues)."])
    given = _worklog_body(site, body, creating=True)
    # Both are required when creating, so the body check has refused a body without them.
    assert given.started is not None
    assert given.spent is not None
    day, at, offset = given.started
    seconds_of_day = at.hour * 3600 + at.minute * 60 + at.second
    stamp = iso_z(site.repo.now())
    author = caller.account.account_id  # Jira always records the caller as the author
    comment = given.comment
    return Worklog(
        tempo_id=0,
        jira_id=0,
        issue_id=issue.id,
        author_account_id=author,
        jira_author_account_id=author,
        start_date=day.isoformat(),
        start_time=at.isoformat(),
        utc_offset=offset,
        start_utc=utc_text(day, seconds_of_day, offset, millis=True),
        time_spent=given.spent,
        billable=given.spent,
        description=_adf_text(comment) if comment is not None else None,
        attributes=(),
        created_at=stamp,
        updated_at=stamp,
        comment=None if comment is None else json.dumps(comment, ensure_ascii=False),
        properties=given.properties or (),
    )


def _updated(site: Site, old: Worklog, given: _WorklogBody) -> Worklog:
    """The worklog with the fields an update body gives; the others stay."""
    new = old._replace(updated_at=iso_z(site.repo.now()))
    if given.started is not None:
        day, at, offset = given.started
        seconds_of_day = at.hour * 3600 + at.minute * 60 + at.second
        new = new._replace(
            start_date=day.isoformat(),
            start_time=at.isoformat(),
            utc_offset=offset,
            start_utc=utc_text(day, seconds_of_day, offset, millis=True),
        )
    if given.spent is not None:
        # Tempo's billable time follows where it was the time spent itself (its default).
        billable = given.spent if old.billable == old.time_spent else old.billable
        new = new._replace(time_spent=given.spent, billable=billable)
    if given.comment is not None:
        new = new._replace(
            comment=json.dumps(given.comment, ensure_ascii=False), description=_adf_text(given.comment)
        )
    if given.properties is not None:  # the keys given are set; the others stay
        merged = dict(old.properties) | dict(given.properties)
        new = new._replace(properties=tuple(merged.items()))
    return new


# What `adjustEstimate=manual` does, by operation: the parameter with the amount, and its sign.
# The document describes no `manual` for an update, nor a parameter for its amount.
_MANUAL_ESTIMATE = {"create": ("reduceBy", -1), "delete": ("increaseBy", 1)}


def _adjusted_estimate(
    site: Site, issue: Issue, params: Any, *, operation: str, auto_delta: int
) -> int | None:
    """The issue's new remaining estimate under `adjustEstimate` (Jira's default: auto), or None to
    leave it as it is. `auto_delta` is what auto adds to it (negative: reduces); an issue without a
    remaining estimate keeps none, unless `new` sets one."""
    mode = params.get("adjustEstimate", "auto")
    if mode not in _ADJUST_ESTIMATE:
        raise JiraError(400, [f"'adjustEstimate' must be one of {', '.join(_ADJUST_ESTIMATE)}."])
    _, remaining, _ = site.repo.time_tracking(issue)
    if mode == "new":
        value = parse_jira_duration(params.get("newEstimate") or "")
        if value is None:
            raise JiraError(400, [], {"newEstimate": "You must supply a valid new estimate, like 2d 4h."})
        return value
    if mode == "manual":
        if operation not in _MANUAL_ESTIMATE:
            raise JiraError(
                400, ["'adjustEstimate=manual' is not documented for an update; use auto, leave or new."]
            )
        name, sign = _MANUAL_ESTIMATE[operation]
        value = parse_jira_duration(params.get(name) or "")
        if value is None:
            verb = "reduce" if sign < 0 else "increase"
            raise JiraError(400, [], {name: f"You must supply a valid amount to {verb} by, like 1h."})
        return _shifted(remaining, sign * value)
    if mode == "leave":
        return None
    return _shifted(remaining, auto_delta)


def _shifted(remaining: int | None, delta: int) -> int | None:
    return None if remaining is None else max(remaining + delta, 0)


def _body_properties(raw: object, errors: dict[str, str]) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(p, dict) and isinstance(p.get("key"), str) and p["key"] and "value" in p for p in raw
    ):
        errors["properties"] = "Properties must be a list of {key, value}."
        return ()
    properties = tuple((p["key"], json.dumps(p["value"], ensure_ascii=False)) for p in raw)
    if any(len(key) > 255 or len(value.encode()) > _MAX_PROPERTY_BYTES for key, value in properties):
        errors["properties"] = (
            f"Property keys are at most 255 characters, values at most {_MAX_PROPERTY_BYTES} bytes."
        )
    return properties


def _is_adf(node: object) -> bool:
    return (
        isinstance(node, dict)
        and node.get("type") == "doc"
        and node.get("version") == 1
        and isinstance(node.get("content"), list)
    )


def _adf_text(node: object) -> str:
    """The plain text of an ADF document, paragraphs joined by newlines."""
    if isinstance(node, dict):
        if node.get("type") == "text" and isinstance(node.get("text"), str):
            return node["text"]
        parts = [_adf_text(child) for child in node.get("content", []) if isinstance(child, dict)]
        separator = "\n" if node.get("type") == "doc" else ""
        return separator.join(parts)
    return ""


def _adf(text: str) -> dict[str, object]:
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def worklog_json(
    worklog: Worklog, directory: Mapping[str, Account], links: Links, profile: Profile, *, properties: bool
) -> dict[str, object]:
    author_id = worklog.jira_author_account_id
    author = _user_details(directory.get(author_id), author_id, links)
    body: dict[str, object] = {
        "self": f"{links.jira}/rest/api/3/issue/{worklog.issue_id}/worklog/{worklog.jira_id}",
        "author": author,
        "updateAuthor": author,
    }
    if worklog.comment is not None:
        body["comment"] = json.loads(worklog.comment)
    elif worklog.description:
        body["comment"] = _adf(worklog.description)
    created = parse_iso_z(worklog.created_at)
    body.update(
        created=jira_timestamp(created),
        updated=jira_timestamp(parse_iso_z(worklog.updated_at)),
        started=_started(worklog, profile),
        timeSpent=format_jira_duration(worklog.time_spent),
        timeSpentSeconds=worklog.time_spent,
        id=str(worklog.jira_id),
        issueId=str(worklog.issue_id),
    )
    if properties:
        body["properties"] = [{"key": key, "value": json.loads(value)} for key, value in worklog.properties]
    return body


def _started(worklog: Worklog, profile: Profile) -> str:
    """The start in the worker's local time and offset, or the same instant at +0000 (profile)."""
    if profile.jira_started == "utc":
        return jira_timestamp(parse_iso_z(worklog.start_utc))
    return f"{worklog.start_date}T{worklog.start_time or '00:00:00'}.000{worklog.utc_offset}"


def _utc_day(epoch_ms: int) -> date:
    return datetime.fromtimestamp(min(epoch_ms, _MAX_EPOCH_MS) / 1000, UTC).date()


def _started_ms(worklog: Worklog) -> int:
    return int(parse_iso_z(worklog.start_utc).timestamp() * 1000)


def _expand(request: Request) -> bool:
    return "properties" in request.query_params.get("expand", "").split(",")


def _worklog(site: Site, id_or_key: str, raw_id: str) -> Worklog:
    return _issue_worklog(site, id_or_key, raw_id)[1]


def _issue_worklog(site: Site, id_or_key: str, raw_id: str) -> tuple[Issue, Worklog]:
    issue = _issue(site, id_or_key)
    worklog = site.repo.worklog_by_jira_id(int(raw_id)) if raw_id.isdigit() and len(raw_id) < 19 else None
    if worklog is None or worklog.issue_id != issue.id:
        raise JiraError(404, ["Cannot find worklog with id: " + raw_id])
    return issue, worklog


# ----- worklogs across issues: change feeds and lists


async def get_updated_worklogs(request: Request) -> Response:
    """Worklogs created or changed after `since` (generated ones once visible, at their updatedAt)."""
    site = site_of(request)
    since = _since(request)
    properties = _expand(request)
    visible = "BROWSE_PROJECTS" in site.grants().jira  # only worklogs the caller may see
    worklogs = site.repo.worklogs_updated_since(_second_of(since)) if visible else []
    changes = [(epoch_ms(w.updated_at), w.jira_id, _property_list(w) if properties else []) for w in worklogs]
    return _changed_worklogs(request, site, since, changes)


async def get_deleted_worklogs(request: Request) -> Response:
    """Worklogs deleted after `since`, Tempo's among them under their Jira ids."""
    site = site_of(request)
    since = _since(request)
    deleted = site.repo.deletions_since(_second_of(since))
    return _changed_worklogs(request, site, since, [(epoch_ms(at), jira_id, []) for jira_id, at in deleted])


def _changed_worklogs(request: Request, site: Site, since: int, changes: list[_Change]) -> Response:
    """A page of Jira's ChangedWorklogs: (time, Jira id, properties) strictly after `since` and before
    the minute preceding the request, oldest first; `nextPage` asks again from the page's `until`."""
    latest = math.floor(site.repo.now().timestamp() * 1000) - _FEED_DELAY_MS
    due = sorted((c for c in changes if since < c[0] <= latest), key=lambda c: (c[0], c[1]))
    page = _feed_page(due)
    last_page = len(page) == len(due)
    until = page[-1][0] if page else since
    body: dict[str, object] = {
        "values": [{"worklogId": id_, "updatedTime": at, "properties": props} for at, id_, props in page],
        "since": since,
        "until": until,
        "self": str(request.url),
    }
    if not last_page:
        body["nextPage"] = str(request.url.include_query_params(since=until))
    body["lastPage"] = last_page
    return JSONResponse(body)


def _feed_page(due: list[_Change]) -> list[_Change]:
    """At most a page of changes, ending where the change time moves on. The next page starts
    strictly after the last time shown, so a page that split a run of equal times would lose the
    rest of the run; a run longer than a page is shown whole."""
    if len(due) <= _FEED_PAGE:
        return due
    end = _FEED_PAGE
    while end > 0 and due[end][0] == due[end - 1][0]:
        end -= 1
    if end == 0:
        end = _FEED_PAGE
        while end < len(due) and due[end][0] == due[end - 1][0]:
            end += 1
    return due[:end]


def _since(request: Request) -> int:
    raw = request.query_params.get("since", "0")
    text = raw.strip()
    if not text.removeprefix("-").isdigit() or len(text) > 19:
        raise JiraError(400, [f"'since' must be a time in milliseconds since 1970, not '{raw}'."])
    return int(text)


def _second_of(epoch_ms_value: int) -> datetime:
    """The instant's whole second (stored times have no milliseconds), within Python's dates."""
    return datetime.fromtimestamp(min(max(epoch_ms_value, 0), _MAX_EPOCH_MS) // 1000, UTC)


def _property_list(worklog: Worklog) -> list[dict[str, object]]:
    return [{"key": key, "value": json.loads(value)} for key, value in worklog.properties]


async def list_worklogs(request: Request) -> Response:
    """The worklogs of up to 1000 Jira ids, in the order asked; unknown and deleted ones left out."""
    site = site_of(request)
    body = await read_json(request, JiraError)
    # The document's WorklogIdsRequestBean takes `ids` and nothing else.
    ids = body.get("ids") if isinstance(body, dict) and set(body) == {"ids"} else None
    if not isinstance(ids, list) or not all(_is_long(i) for i in ids):
        raise JiraError(400, ['The request body must be {"ids": [worklog ids as numbers]}.'])
    if not ids or len(ids) > _MAX_LISTED_WORKLOGS:
        raise JiraError(400, [f"Give between 1 and {_MAX_LISTED_WORKLOGS} worklog ids, not {len(ids)}."])
    if len(set(ids)) < len(ids):  # the document's schema: `uniqueItems`
        raise JiraError(400, ["Each worklog id may be given only once."])
    visible = "BROWSE_PROJECTS" in site.grants().jira  # only worklogs the caller may see
    found = site.repo.worklogs_by_jira_ids(ids) if visible else []
    directory, links, profile = site.repo.directory(), Links.of(request), site.config.profile
    properties = _expand(request)
    return JSONResponse([worklog_json(w, directory, links, profile, properties=properties) for w in found])


def _is_long(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


# ----- worklog properties


async def get_worklog_property_keys(request: Request) -> Response:
    site, params = site_of(request), request.path_params
    worklog = _worklog(site, params["issueIdOrKey"], params["worklogId"])
    worklog_url = f"{Links.of(request).jira}/rest/api/3/issue/{worklog.issue_id}/worklog/{worklog.jira_id}"
    base = f"{worklog_url}/properties"
    return JSONResponse({"keys": [{"key": key, "self": f"{base}/{key}"} for key, _ in worklog.properties]})


async def get_worklog_property(request: Request) -> Response:
    site, params = site_of(request), request.path_params
    worklog = _worklog(site, params["issueIdOrKey"], params["worklogId"])
    for key, value in worklog.properties:
        if key == params["propertyKey"]:
            return JSONResponse({"key": key, "value": json.loads(value)})
    raise JiraError(404, [f"The property with key '{params['propertyKey']}' does not exist."])


async def set_worklog_property(request: Request) -> Response:
    site, params = site_of(request), request.path_params
    worklog = _worklog(site, params["issueIdOrKey"], params["worklogId"])
    key = params["propertyKey"]
    raw = await request.body()
    if len(raw) > _MAX_PROPERTY_BYTES or len(key) > 255:
        raise JiraError(
            400,
            [f"Property keys are at most 255 characters, values at most {_MAX_PROPERTY_BYTES} bytes."],
        )
    value = await read_json(request, JiraError)
    text = json.dumps(value, ensure_ascii=False)
    existed = any(existing == key for existing, _ in worklog.properties)
    kept = tuple((k, v) for k, v in worklog.properties if k != key)
    site.repo.replace(worklog, worklog._replace(properties=(*kept, (key, text))))
    return Response(status_code=200 if existed else 201)


# ----- shared


def _int_query(request: Request, name: str, default: int | None, *, minimum: int, status: int = 400) -> Any:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or int(raw) < minimum or len(raw.strip()) > 18:
        raise JiraError(status, [f"'{name}' must be a whole number of {minimum} or more, not '{raw}'."])
    return int(raw)


ROUTES = [
    Route("/rest/api/3/myself", get_myself, methods=["GET"]),
    Route("/rest/api/3/mypermissions", get_my_permissions, methods=["GET"]),
    Route("/rest/api/3/user", get_user, methods=["GET"]),
    Route("/rest/api/3/user/bulk", get_users_bulk, methods=["GET"]),
    Route("/rest/api/3/user/search", search_users, methods=["GET"]),
    Route("/rest/api/3/issue/{issueIdOrKey}", get_issue, methods=["GET"]),
    Route("/rest/api/3/search/jql", search_jql_get, methods=["GET"]),
    Route("/rest/api/3/search/jql", search_jql_post, methods=["POST"]),
    Route("/rest/api/3/issue/{issueIdOrKey}/worklog", get_issue_worklogs, methods=["GET"]),
    Route("/rest/api/3/issue/{issueIdOrKey}/worklog", add_worklog, methods=["POST"]),
    Route("/rest/api/3/issue/{issueIdOrKey}/worklog/{id}", get_issue_worklog, methods=["GET"]),
    Route("/rest/api/3/issue/{issueIdOrKey}/worklog/{id}", update_worklog, methods=["PUT"]),
    Route("/rest/api/3/issue/{issueIdOrKey}/worklog/{id}", delete_worklog, methods=["DELETE"]),
    Route("/rest/api/3/worklog/updated", get_updated_worklogs, methods=["GET"]),
    Route("/rest/api/3/worklog/deleted", get_deleted_worklogs, methods=["GET"]),
    Route("/rest/api/3/worklog/list", list_worklogs, methods=["POST"]),
    Route(
        "/rest/api/3/issue/{issueIdOrKey}/worklog/{worklogId}/properties",
        get_worklog_property_keys,
        methods=["GET"],
    ),
    Route(
        "/rest/api/3/issue/{issueIdOrKey}/worklog/{worklogId}/properties/{propertyKey}",
        get_worklog_property,
        methods=["GET"],
    ),
    Route(
        "/rest/api/3/issue/{issueIdOrKey}/worklog/{worklogId}/properties/{propertyKey}",
        set_worklog_property,
        methods=["PUT"],
    ),
]
