"""A typed client for the Jira Cloud platform REST API v3 of one site."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import Field

from resources.http import MAX_PAGES, ApiError, ApiResource, ApiSession, Params, batches

ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]+-\d+")
CUSTOM_FIELD = re.compile(r"customfield_(\d+)")
MAX_BULK_USERS = 200  # Jira caps /user/bulk pages at 200
MAX_USER_SEARCH = 1000
MAX_ISSUES_PER_QUERY = 100  # a search page holds at most 100 issues once fields are asked for
MAX_TEXT_CLAUSES = 50
MAX_WORKLOGS_PAGE = 5000
# What a new worklog does to its issue's remaining estimate: Jira's "auto" and "leave", or a new value
# in seconds.
EstimateChange = Literal["auto", "leave"] | int
# Jira fails a whole `key in (...)` / `id in (...)` query for one unknown value, naming it.
_MISSING_ISSUE = re.compile(
    r"An issue with key '([^']*)' does not exist for field '[^']*'"
    r"|The issue key '([^']*)' for field '[^']*' is invalid"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEARCH = "POST /rest/api/3/search/jql"
_ONE_WORKLOG = "GET /rest/api/3/issue/{issueId}/worklog/{id}"


class JiraClient(ApiResource):
    """Jira Cloud v3 of one site: users, issue lookups by id, key or text field, worklogs."""

    base_url: str = Field(description="Jira site root, e.g. https://example.atlassian.net")
    email: str = Field(description="Atlassian account email of the API token's owner")
    token: str = Field(repr=False, description="Atlassian API token (wire it from dg.EnvVar)")
    site: str = Field(default="source", description="Which site this is, for messages")
    requests_per_second: float = Field(default=10.0, description="Pace of requests; 0 means unpaced")
    timeout_seconds: float = 30.0
    max_retries: int = 6
    backoff_seconds: float = Field(default=1.0, description="First retry wait when no Retry-After")

    def _new_session(self) -> ApiSession:
        return ApiSession(
            service=f"{self.site} Jira",
            base_url=self.base_url,
            auth=httpx.BasicAuth(self.email, self.token),
            requests_per_second=self.requests_per_second,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
        )

    # ----- the caller and users

    def myself(self) -> dict[str, Any]:
        """The account the token belongs to."""
        return self._get("/rest/api/3/myself", "GET /rest/api/3/myself")

    def my_permissions(self, keys: Sequence[str]) -> dict[str, bool]:
        """Whether the caller holds each permission key (site-wide)."""
        if not keys:
            return {}
        body = self._get(
            "/rest/api/3/mypermissions",
            "GET /rest/api/3/mypermissions",
            params={"permissions": ",".join(keys)},
        )
        granted = body.get("permissions", {})
        return {key: bool(granted.get(key, {}).get("havePermission")) for key in keys}

    def users(self, account_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The accounts of these ids, in order; unknown and deleted ids are simply absent."""
        found: list[dict[str, Any]] = []
        for batch in batches(list(dict.fromkeys(account_ids)), MAX_BULK_USERS):
            found.extend(self._user_batch(batch))
        return found

    def search_users(self, query: str) -> list[dict[str, Any]]:
        """Active users whose name or visible email starts with `query` (a prefix match)."""
        found = self._get(
            "/rest/api/3/user/search",
            "GET /rest/api/3/user/search",
            params={"query": query, "maxResults": MAX_USER_SEARCH},
        )
        if not isinstance(found, list):
            raise self._unexpected("GET /rest/api/3/user/search", "an answer that is not a list of users")
        return found

    # ----- issues

    def issues_by_ids(self, ids: Sequence[int | str], fields: Sequence[str]) -> list[dict[str, Any]]:
        """The issues of these ids that exist; others are dropped, not an error."""
        wanted = [str(i) for i in dict.fromkeys(ids) if str(i).isdigit()]
        return self._issues_in("id", wanted, fields)

    def issues_by_keys(self, keys: Sequence[str], fields: Sequence[str]) -> list[dict[str, Any]]:
        """The issues of these keys that exist; missing and malformed keys are dropped.

        Jira may answer a moved or renamed issue under its new key, so callers compare keys.
        """
        wanted = [key for key in dict.fromkeys(keys) if ISSUE_KEY.fullmatch(key)]
        return self._issues_in("key", wanted, fields)

    def issues_with_field_text(
        self, field: str, values: Sequence[str], fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Issues whose text field contains one of `values` as a phrase.

        Text search matches words, not whole values, so callers check exact equality.
        """
        match = CUSTOM_FIELD.fullmatch(field)
        if match is None:
            raise ValueError(f"expected a custom field id like customfield_10100, not {field!r}")
        clause = f"cf[{match.group(1)}] ~ "
        phrases = [value for value in dict.fromkeys(values) if value.strip()]
        found: dict[str, dict[str, Any]] = {}
        for batch in batches(phrases, MAX_TEXT_CLAUSES):
            jql = " OR ".join(clause + jql_string(f'"{value}"') for value in batch)
            for issue in self._search(jql, fields):
                found.setdefault(issue["id"], issue)
        return list(found.values())

    # ----- worklogs

    def issue_worklogs(
        self,
        issue_id: str | int,
        *,
        started_after: datetime | None,
        started_before: datetime | None,
    ) -> list[dict[str, Any]]:
        """An issue's worklogs (with properties) started within the bounds, both included."""
        endpoint = "GET /rest/api/3/issue/{issueId}/worklog"
        params: dict[str, str | int] = {"expand": "properties", "maxResults": MAX_WORKLOGS_PAGE}
        if started_after is not None:
            params["startedAfter"] = epoch_ms(started_after)
        if started_before is not None:
            params["startedBefore"] = epoch_ms(started_before)
        worklogs: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page = self._get(_worklog_path(issue_id), endpoint, params={**params, "startAt": len(worklogs)})
            batch = page.get("worklogs", [])
            worklogs.extend(batch)
            if not batch or len(worklogs) >= int(page.get("total", 0)):
                return worklogs
        raise self._unexpected(endpoint, f"more than {MAX_PAGES} pages")

    def add_worklog(
        self, issue_id: str | int, body: dict[str, Any], *, estimate: EstimateChange
    ) -> dict[str, Any]:
        """Log work as the caller, without notifying watchers.

        The issue's remaining estimate goes down by the time logged (``"auto"``), stays
        (``"leave"``), or is set to a number of seconds (in whole minutes). An
        `OutcomeUnknownError` means the worklog may exist.
        """
        return self._api().request_json(
            "POST",
            _worklog_path(issue_id),
            endpoint="POST /rest/api/3/issue/{issueId}/worklog",
            params=_estimate_params(estimate, expand=True),
            json=body,
        )

    def worklog(self, issue_id: str | int, worklog_id: str | int) -> dict[str, Any] | None:
        """One worklog with its properties; None when Jira answers 404 (gone, or not visible)."""
        try:
            return self._get(
                f"{_worklog_path(issue_id)}/{quote(str(worklog_id), safe='')}",
                _ONE_WORKLOG,
                params={"expand": "properties"},
            )
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def update_worklog(
        self, issue_id: str | int, worklog_id: str | int, body: dict[str, Any], *, estimate: EstimateChange
    ) -> dict[str, Any]:
        """Update a worklog, without notifying watchers. ``"auto"`` changes the issue's remaining
        estimate by the difference in time spent, as Jira does for anyone's edit."""
        return self._api().request_json(
            "PUT",
            f"{_worklog_path(issue_id)}/{quote(str(worklog_id), safe='')}",
            endpoint="PUT /rest/api/3/issue/{issueId}/worklog/{id}",
            params=_estimate_params(estimate, expand=True),
            json=body,
        )

    def delete_worklog(self, issue_id: str | int, worklog_id: str | int, *, estimate: EstimateChange) -> bool:
        """Delete a worklog, without notifying watchers; False when it was already gone (404).
        ``"auto"`` is Jira's own adjustment of the remaining estimate for a deleted worklog."""
        try:
            self._api().request(
                "DELETE",
                f"{_worklog_path(issue_id)}/{quote(str(worklog_id), safe='')}",
                endpoint="DELETE /rest/api/3/issue/{issueId}/worklog/{id}",
                params=_estimate_params(estimate, expand=False),
            )
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    def deleted_worklogs(self, since: datetime) -> dict[int, datetime]:
        """Jira worklog ids deleted after ``since``, with when; Jira leaves out the last minute."""
        return self._changed_worklogs("/rest/api/3/worklog/deleted", since)

    def updated_worklogs(self, since: datetime) -> dict[int, datetime]:
        """Jira worklog ids created or changed after ``since``, with when (the last minute left out)."""
        return self._changed_worklogs("/rest/api/3/worklog/updated", since)

    # ----- plumbing

    def _changed_worklogs(self, path: str, since: datetime) -> dict[int, datetime]:
        endpoint = f"GET {path}"
        url, params = path, {"since": epoch_ms(since)}
        changed: dict[int, datetime] = {}
        for _ in range(MAX_PAGES):
            page = self._get(url, endpoint, params=params)
            for item in page.get("values", []):
                changed[int(item["worklogId"])] = _EPOCH + timedelta(milliseconds=int(item["updatedTime"]))
            next_page = page.get("nextPage")
            if page.get("lastPage", True) or not next_page:
                return changed
            url, params = str(next_page), None  # the link carries the whole query
        raise self._unexpected(endpoint, f"more than {MAX_PAGES} pages")

    def _get(self, path: str, endpoint: str, params: Params | None = None) -> Any:
        return self._api().request_json("GET", path, endpoint=endpoint, params=params)

    def _user_batch(self, batch: Sequence[str]) -> list[dict[str, Any]]:
        endpoint = "GET /rest/api/3/user/bulk"
        url: str = "/rest/api/3/user/bulk"
        params: Params | None = {"accountId": list(batch), "maxResults": len(batch)}
        users: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page = self._get(url, endpoint, params=params)
            users.extend(page.get("values", []))
            next_page = page.get("nextPage")
            if page.get("isLast", True) or not next_page:
                return users
            url, params = str(next_page), None  # the link carries the whole query
        raise self._unexpected(endpoint, f"more than {MAX_PAGES} pages")

    def _issues_in(self, field: str, values: Sequence[str], fields: Sequence[str]) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for batch in batches(values, MAX_ISSUES_PER_QUERY):
            for issue in self._search_existing(field, list(batch), fields):
                found.setdefault(issue["id"], issue)
        return list(found.values())

    def _search_existing(self, field: str, values: list[str], fields: Sequence[str]) -> list[dict[str, Any]]:
        """`field in (values)`, dropping the values Jira says do not exist and asking again."""
        while values:
            jql = f"{field} in ({', '.join(jql_string(value) for value in values)})"
            try:
                return self._search(jql, fields)
            except ApiError as error:
                missing = _missing_values(error, values)
                if not missing:
                    raise
                values = [value for value in values if value.upper() not in missing]
        return []

    def _search(self, jql: str, fields: Sequence[str]) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": MAX_ISSUES_PER_QUERY}
        issues: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page = self._api().request_json(
                "POST", "/rest/api/3/search/jql", endpoint=_SEARCH, json=body, idempotent=True
            )
            issues.extend(page.get("issues", []))
            token = page.get("nextPageToken")
            if page.get("isLast", True) or not token:
                return issues
            body = {**body, "nextPageToken": token}
        raise self._unexpected(_SEARCH, f"more than {MAX_PAGES} pages")

    def _unexpected(self, endpoint: str, what: str) -> ApiError:
        return ApiError(
            service=self._api().service, endpoint=endpoint, status=None, message=f"unexpected {what}"
        )


def jql_string(text: str) -> str:
    """A JQL string literal: double quotes, with backslashes and quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since 1970 UTC, as Jira's `startedAfter` / `startedBefore` take them."""
    if moment.tzinfo is None:
        raise ValueError("worklog bounds must be timezone-aware")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _estimate_params(estimate: EstimateChange, *, expand: bool) -> dict[str, str]:
    """The query of a worklog write: no notifications, and what it does to the remaining estimate."""
    params = {"notifyUsers": "false"}
    if expand:
        params["expand"] = "properties"
    if isinstance(estimate, int):
        params["adjustEstimate"] = "new"
        params["newEstimate"] = f"{max(estimate, 0) // 60}m"
    else:
        params["adjustEstimate"] = estimate
    return params


def _worklog_path(issue_id: str | int) -> str:
    return f"/rest/api/3/issue/{quote(str(issue_id), safe='')}/worklog"


def _missing_values(error: ApiError, values: Sequence[str]) -> set[str]:
    """The values (upper-cased) a 400 names as missing or invalid; empty for any other error."""
    if error.status != 400:
        return set()
    named = {(a or b).upper() for a, b in _MISSING_ISSUE.findall(error.message)}
    return named & {value.upper() for value in values}
