"""Error bodies as each service writes them, and reading request bodies safely.

Tempo answers 400 and 404 with JSON and 401/403 with HTML (official document, "Errors").
Its prose shows ``errors`` as an object while its ``ErrorBean`` schema (and integrators'
reports) show a list; the sandbox serves the list, ``{"errors": [{"message": "..."}]}``, unless
the profile's ``tempo_error_shape`` asks for the prose's ``{"errors": {"message": "..."}}``.
Jira answers with its ``ErrorCollection``: ``{"errorMessages": [...], "errors": {...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from sandbox.config import Profile

# Bulk bodies of 50 worklogs with the longest descriptions stay far below this.
MAX_BODY_BYTES = 16 * 1024 * 1024


class ApiError(Exception):
    """An answer that ends the request: raised in a handler, turned into a response."""

    def response(self, profile: Profile) -> Response:
        raise NotImplementedError


class TempoError(ApiError):
    def __init__(self, status: int, *messages: str) -> None:
        super().__init__(f"{status}: {'; '.join(messages)}")
        self.status = status
        self.messages = messages

    def response(self, profile: Profile) -> Response:
        return tempo_error(self.status, *self.messages, shape=profile.tempo_error_shape)


class TempoAccessError(ApiError):
    """Tempo's 401 and 403 are HTML pages, not JSON."""

    def __init__(self, status: int) -> None:
        super().__init__(str(status))
        self.status = status

    def response(self, profile: Profile) -> Response:
        return html_error(self.status)


class JiraError(ApiError):
    def __init__(
        self,
        status: int,
        messages: Sequence[str] = (),
        errors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {list(messages)} {dict(errors or {})}")
        self.status = status
        self.messages = messages
        self.errors = errors or {}

    def response(self, profile: Profile) -> Response:
        return jira_error(self.status, self.messages, self.errors)


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def tempo_error(
    status: int, *messages: str, shape: str = "list", headers: Mapping[str, str] | None = None
) -> Response:
    errors: object = [{"message": message} for message in messages]
    if shape == "object":
        errors = {"message": "; ".join(messages)}
    return JSONResponse({"errors": errors}, status_code=status, headers=headers)


def jira_error(
    status: int,
    messages: Sequence[str] = (),
    errors: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = {"errorMessages": list(messages), "errors": dict(errors or {})}
    return JSONResponse(body, status_code=status, headers=headers)


def html_error(status: int, headers: Mapping[str, str] | None = None) -> Response:
    reason = _REASONS.get(status, "Error")
    page = (
        f"<!DOCTYPE html><html><head><title>{status} {reason}</title></head>"
        f"<body><h1>{status} {reason}</h1></body></html>"
    )
    return HTMLResponse(page, status_code=status, headers=headers)


async def read_json(request: Request, invalid: type[ApiError]) -> object:
    """The request's JSON body; a malformed or oversized one ends the request with a 400."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise _error(invalid, 413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise _error(invalid, 413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    if not raw.strip():
        raise _error(invalid, 400, "Required request body is missing.")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise _error(invalid, 400, f"Malformed JSON request: {problem}") from None


def _error(kind: type[ApiError], status: int, message: str) -> ApiError:
    if kind is JiraError:
        return JiraError(status, [message])
    return TempoError(status, message)
