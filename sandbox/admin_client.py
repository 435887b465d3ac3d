"""A typed client for ``/_sandbox``, the sandbox's inspection and control surface."""

from __future__ import annotations

from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

import httpx


class SandboxAdmin:
    def __init__(self, admin_url: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=admin_url, timeout=timeout)

    def summary(self) -> dict[str, Any]:
        return self._get("/")

    # ----- counters and faults

    def stats(self) -> dict[str, Any]:
        """Requests by site, service, endpoint and status; fault counters; internal errors."""
        return self._get("/stats")

    def reset_stats(self) -> None:
        self._call("DELETE", "/stats")

    def count(self, site: str, service: str, endpoint: str, status: int | None = None) -> int:
        """How many requests one endpoint (e.g. "GET /4/worklogs") answered, by status."""
        return sum(
            row["count"]
            for row in self.stats()["requests"]
            if (row["site"], row["service"], row["endpoint"]) == (site, service, endpoint)
            and (status is None or row["status"] == status)
        )

    def in_flight(self, site: str, service: str, endpoint: str) -> int:
        """How many requests to one endpoint the sandbox is answering right now."""
        return sum(
            row["count"]
            for row in self.stats()["in_flight"]
            if (row["site"], row["service"], row["endpoint"]) == (site, service, endpoint)
        )

    def faults(self) -> dict[str, Any]:
        return self._get("/faults")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the server's faults; names as in ``sandbox.config.Faults``."""
        return self._call("PUT", "/faults", json=faults).json()

    # ----- holds (sandbox.holds)

    def hold(self, site: str, service: str, endpoint: str, *, when: str, count: int = 1) -> dict[str, Any]:
        """Hold the next ``count`` requests to the endpoint ``before`` or ``after`` applying them."""
        body = {"site": site, "service": service, "endpoint": endpoint, "when": when, "count": count}
        return self._call("POST", "/holds", json=body).json()

    def holds(self) -> list[dict[str, Any]]:
        """The holds, with how many requests each caught and how many wait now."""
        return self._get("/holds")

    def release_holds(self) -> None:
        self._call("DELETE", "/holds")

    # ----- clock

    def clock(self) -> dict[str, Any]:
        return self._get("/clock")

    def freeze_clock(self, at: datetime) -> dict[str, Any]:
        return self._call("PUT", "/clock", json={"frozen_at": at.isoformat()}).json()

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._call("PUT", "/clock", json={"advance_seconds": seconds}).json()

    def follow_real_time(self, offset_seconds: float = 0.0) -> dict[str, Any]:
        body = {"real_time": True, "offset_seconds": offset_seconds}
        return self._call("PUT", "/clock", json=body).json()

    # ----- data

    def changed_worklogs(self, site: str) -> list[dict[str, Any]]:
        """Every worklog clients created, edited or deleted on a site, with all its fields."""
        return self._get(f"/sites/{site}/worklogs")

    def edit_worklog(
        self, site: str, worklog_id: int | str, *, by: str = "tempo", **fields: Any
    ) -> dict[str, Any]:
        """Change a worklog now, as its worker or a third party would; ``by="jira"`` addresses it by
        its Jira id. Fields: start_date, start_time, time_spent, billable, description, issue_key,
        author_account_id, attributes (a mapping). Answers the record ``changed_worklogs`` shows."""
        path = f"/sites/{site}/worklogs/{worklog_id}"
        return self._call("PATCH", path, params={"by": by}, json=fields).json()

    def delete_worklog(self, site: str, worklog_id: int | str, *, by: str = "tempo") -> None:
        """Delete a worklog now, as its worker or a third party would."""
        self._call("DELETE", f"/sites/{site}/worklogs/{worklog_id}", params={"by": by})

    def inject_worklogs(self, site: str, day: date, records: list[Any]) -> int:
        """List raw records, as given, among the site's Tempo worklogs of ``day`` (malformed input)."""
        body = {"day": day.isoformat(), "records": records}
        return self._call("POST", f"/sites/{site}/injected-worklogs", json=body).json()["injected"]

    def scenarios(self, site: str, first: date, last: date) -> list[dict[str, Any]]:
        """Generated worklogs of a date range with their awkward case and expected outcome."""
        params = {"from": first.isoformat(), "to": last.isoformat()}
        return self._get(f"/sites/{site}/scenarios", params=params)

    def people(self) -> list[dict[str, Any]]:
        return self._get("/people")

    def accounts(self, site: str) -> list[dict[str, Any]]:
        return self._get(f"/sites/{site}/accounts")

    def put_user(self, site: str, account_id: str, **fields: Any) -> dict[str, Any]:
        """Add or replace a Jira account (fields as in ``sandbox.world.Account``)."""
        return self._call("PUT", f"/sites/{site}/users/{account_id}", json=fields).json()

    def delete_user(self, site: str, account_id: str) -> None:
        self._call("DELETE", f"/sites/{site}/users/{account_id}")

    def permissions(self, site: str) -> dict[str, list[str]]:
        return self._get(f"/sites/{site}/permissions")

    def set_permissions(self, site: str, *, jira: list[str], tempo: list[str]) -> dict[str, list[str]]:
        body = {"jira": jira, "tempo": tempo}
        return self._call("PUT", f"/sites/{site}/permissions", json=body).json()

    def reset(self) -> None:
        """Forget everything clients changed, and the counters."""
        self._call("POST", "/reset")

    # ----- plumbing

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self._call("GET", path, params=params).json()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.is_error:
            raise RuntimeError(f"sandbox {method} {path} answered {response.status_code}: {response.text}")
        return response

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
