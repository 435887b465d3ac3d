"""A typed client for the Tempo Cloud REST API v4 of one Jira site."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import Field

from resources.http import ApiError, ApiResource, ApiSession, BearerAuth, RawPage, batches

MAX_PAGE_SIZE = 5000  # Tempo v4's largest `limit`
MAX_BULK_ITEMS = 50
# Tempo answers 409 while another bulk request holds the issue; nothing was applied, so
# trying again later is safe even though the request is a create.
BULK_IN_PROGRESS = frozenset({409})


class TempoClient(ApiResource):
    """Tempo v4 of one site: worklog listings and searches, id mapping, creates.

    One client is one token, so all its requests share one pacer: Tempo documents about
    5 requests per second per token, and the default stays a little under that.
    """

    base_url: str = Field(description="Tempo API root, e.g. https://api.tempo.io")
    token: str = Field(repr=False, description="Tempo API token (wire it from dg.EnvVar)")
    site: str = Field(default="source", description="Which site this is, for messages")
    requests_per_second: float = Field(default=4.8, description="Pace of requests; 0 means unpaced")
    timeout_seconds: float = 30.0
    max_retries: int = 6
    backoff_seconds: float = Field(default=1.0, description="First retry wait when no Retry-After")

    def _new_session(self) -> ApiSession:
        return ApiSession(
            service=f"{self.site} Tempo",
            base_url=self.base_url,
            auth=BearerAuth(self.token),
            requests_per_second=self.requests_per_second,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
        )

    # ----- reading

    def worklog_pages(
        self,
        date_from: date,
        date_to: date,
        *,
        updated_from: datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[RawPage]:
        """Worklogs dated `date_from` to `date_to` (both included), a page at a time, each page
        as the bytes that arrived so the extract can stream it into DuckDB unparsed."""
        params: dict[str, str | int] = {
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
            "limit": _page_size(page_size),
        }
        if updated_from is not None:
            params["updatedFrom"] = tempo_instant(updated_from)
        return self._api().raw_pages("/4/worklogs", endpoint="GET /4/worklogs", params=params)

    def updated_worklog_pages(
        self, updated_from: datetime, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[list[dict[str, Any]]]:
        """Worklogs created or changed since `updated_from`, whatever their date."""
        params = {"updatedFrom": tempo_instant(updated_from), "limit": _page_size(page_size)}
        return self._api().pages("/4/worklogs", endpoint="GET /4/worklogs", params=params)

    def search_worklogs(
        self,
        *,
        issue_ids: Sequence[int],
        date_from: date,
        date_to: date,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """Every worklog on these issues in the date range (to see what already exists)."""
        if not issue_ids:
            return []  # an empty issueIds filter would mean every issue
        body = {
            "issueIds": list(dict.fromkeys(issue_ids)),
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
        }
        pages = self._api().post_pages(
            "/4/worklogs/search",
            endpoint="POST /4/worklogs/search",
            body=body,
            params={"limit": _page_size(page_size)},
        )
        return [worklog for page in pages for worklog in page]

    def worklog(self, tempo_id: int) -> dict[str, Any] | None:
        """One worklog by its Tempo id; None when Tempo answers 404 (deleted, or not visible)."""
        try:
            return self._api().request_json("GET", f"/4/worklogs/{int(tempo_id)}", endpoint=_ONE)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def jira_worklog_ids(self, tempo_ids: Sequence[int]) -> dict[int, int]:
        """Jira worklog id by Tempo worklog id; unknown Tempo ids are left out."""
        mapping: dict[int, int] = {}
        for chunk in batches(list(dict.fromkeys(tempo_ids)), MAX_PAGE_SIZE):
            pages = self._api().post_pages(
                "/4/worklogs/tempo-to-jira",
                endpoint="POST /4/worklogs/tempo-to-jira",
                body={"tempoWorklogIds": list(chunk)},
                params={"limit": MAX_PAGE_SIZE},
            )
            for page in pages:
                mapping.update({int(pair["tempoWorklogId"]): int(pair["jiraWorklogId"]) for pair in page})
        return mapping

    def work_attributes(self) -> list[dict[str, Any]]:
        """The work attributes this site defines (key, name, type, ...)."""
        pages = self._api().pages(
            "/4/work-attributes", endpoint="GET /4/work-attributes", params={"limit": MAX_PAGE_SIZE}
        )
        return [attribute for page in pages for attribute in page]

    def permission_roles(self) -> list[dict[str, Any]]:
        """The permission roles visible to the token's user."""
        pages = self._api().pages(
            "/4/permission-roles", endpoint="GET /4/permission-roles", params={"limit": MAX_PAGE_SIZE}
        )
        return [role for page in pages for role in page]

    # ----- writing

    def create_worklog(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Create one worklog; an `OutcomeUnknownError` means it may exist all the same."""
        return self._api().request_json("POST", "/4/worklogs", endpoint="POST /4/worklogs", json=payload)

    def bulk_create_worklogs(self, issue_id: int, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create 1 to 50 worklogs on one issue in one all-or-nothing request."""
        if not 1 <= len(items) <= MAX_BULK_ITEMS:
            raise ValueError(f"a bulk create takes 1 to {MAX_BULK_ITEMS} worklogs, not {len(items)}")
        return self._api().request_json(
            "POST",
            f"/4/worklogs/issue/{int(issue_id)}/bulk",
            endpoint="POST /4/worklogs/issue/{issueId}/bulk",
            json=list(items),
            retry_statuses=BULK_IN_PROGRESS,
        )

    def update_worklog(self, tempo_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Replace a worklog (``WorklogUpdate``: every field, or the omitted ones may be reset).
        A PUT is idempotent, so the session retries it after a lost answer."""
        path = f"/4/worklogs/{int(tempo_id)}"
        return self._api().request_json("PUT", path, endpoint=_ONE_PUT, json=payload)

    def delete_worklog(self, tempo_id: int) -> bool:
        """Delete a worklog; False when it was already gone (404), which settles a delete whose
        first answer was lost."""
        try:
            self._api().request("DELETE", f"/4/worklogs/{int(tempo_id)}", endpoint=_ONE_DELETE)
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True


_ONE = "GET /4/worklogs/{id}"
_ONE_PUT = "PUT /4/worklogs/{id}"
_ONE_DELETE = "DELETE /4/worklogs/{id}"


def tempo_instant(moment: datetime) -> str:
    """A moment as Tempo's `updatedFrom` takes it: UTC, whole seconds, with a Z."""
    if moment.tzinfo is None:
        raise ValueError("updated_from must be timezone-aware; Tempo reads it as UTC")
    # Dropping the fraction moves the bound earlier, so nothing at the boundary is missed.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _page_size(page_size: int) -> int:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
    return page_size
