"""The one polite HTTP layer under the Tempo and Jira clients.

Every request of one credential goes through one `ApiSession`: it paces requests under the
service's rate limit, retries only what is safe to retry, refuses to send the credential
anywhere but the configured service, and turns failures into `ApiError`s whose messages are
readable and never carry a secret.
"""

from __future__ import annotations

import functools
import html
import importlib.metadata
import json as jsonlib
import logging
import math
import os
import random
import re
import ssl
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Any, TypeVar, overload

import dagster as dg
import httpx
from pydantic import PrivateAttr

log = logging.getLogger(__name__)

USER_AGENT = f"tempo-sync/{importlib.metadata.version('tempo-sync')}"
RETRYABLE_5XX = frozenset({500, 502, 503, 504})
MAX_PAGES = 100_000
MAX_REDIRECTS = 5
# A server asking for a longer pause than this is treated as asking for this; a sync run
# should fail visibly rather than hang on one answer.
MAX_WAIT_SECONDS = 300.0
MAX_BACKOFF_SECONDS = 60.0
_MESSAGE_CHARS = 300
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Failures before a single byte of the request left: retrying them cannot duplicate a write.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_INVISIBLE_HTML = re.compile(r"<(head|script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
# A Tempo page's ``metadata`` object (flat: count, offset, limit, next, previous). Inside JSON
# strings every quote is escaped, so this can only match a key; worklogs have no such key, and the
# page's ``count`` is checked against the results actually read.
_PAGE_METADATA = re.compile(rb'"metadata"\s*:\s*(\{[^{}]*\})')

Params = Mapping[str, str | int | float | Sequence[str | int]]
T = TypeVar("T")
# Guards the lazy opening of sessions; module-level because a lock in a resource's private
# state would not survive Dagster copying the resource.
_SESSION_LOCK = threading.Lock()


class ApiError(Exception):
    """A definite failure answer: a 4xx the caller cannot fix by waiting, or retries exhausted.

    `service` and `endpoint` are labels ("source Tempo", "POST /4/worklogs"), never a URL with
    its query, so the message is safe to log.
    """

    def __init__(self, *, service: str, endpoint: str, status: int | None, message: str) -> None:
        self.service = service
        self.endpoint = endpoint
        self.status = status
        self.message = message
        outcome = f"answered {status}" if status is not None else "failed"
        super().__init__(f"{service} {endpoint} {outcome}: {message}")


class OutcomeUnknownError(ApiError):
    """A non-idempotent request (a create) may or may not have been applied.

    Raised on a timeout, a dropped connection or a 5xx. Resending could duplicate the write,
    so the caller must look for it on the server before trying again.
    """


class UnsafeUrlError(ApiError):
    """A link or redirect leading away from the configured service; nothing was sent there."""


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>`, with a repr that keeps the token out of logs."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(token=<hidden>)"


class Pacer:
    """Spaces request starts so one credential stays at or under its rate, across threads.

    Each caller reserves the next free start time under a lock, then sleeps outside it, so
    threads queue in order. `pause` pushes the next start out for every thread: a 429 is
    about the credential, not about the one request that saw it.
    """

    def __init__(self, requests_per_second: float) -> None:
        if requests_per_second < 0:
            raise ValueError("requests_per_second must be 0 (unpaced) or more")
        self._interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self._lock = threading.Lock()
        self._next_start = 0.0

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self._interval
        if start > now:
            time.sleep(start - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._next_start = max(self._next_start, time.monotonic() + seconds)


class RawPage(Sequence[dict[str, Any]]):
    """One Tempo page as the bytes that arrived, with the count its metadata gives.

    A large listing is millions of records: parsing each into Python objects only to write it
    out again as JSON is most of an extract's cost, so ``replication.extract.stage_page`` hands
    ``body`` to DuckDB as it is. The results are parsed here only if Python code reads them.
    """

    def __init__(self, body: bytes, count: int) -> None:
        self.body = body
        self.count = count

    @cached_property
    def _results(self) -> list[dict[str, Any]]:
        results = jsonlib.loads(self.body).get("results")
        return results if isinstance(results, list) else []

    def __len__(self) -> int:
        return self.count

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self._results[index]


class ApiSession:
    """All HTTP requests made with one credential to one service (one site's Tempo or Jira)."""

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        auth: httpx.Auth,
        requests_per_second: float,
        timeout_seconds: float = 30.0,
        max_retries: int = 6,
        backoff_seconds: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.service = service
        self._base = httpx.URL(base_url.rstrip("/"))
        if self._base.scheme not in _DEFAULT_PORTS or not self._base.host:
            raise ValueError(f"{service}: the base URL must be an absolute http(s) URL")
        if max_retries < 0 or backoff_seconds < 0:
            raise ValueError(f"{service}: max_retries and backoff_seconds must not be negative")
        self._max_retries = max_retries
        self._backoff_seconds = backoff_seconds
        self._pacer = Pacer(requests_per_second)
        self._counter_lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.retried: Counter[str] = Counter()
        # Redirects are followed here, after the host check, never by httpx on its own.
        self._client = httpx.Client(
            auth=auth,
            timeout=timeout_seconds,
            follow_redirects=False,
            transport=transport,
            verify=_tls_context(),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"ApiSession(service={self.service!r}, base_url={str(self._base)!r})"

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        endpoint: str,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        retry_statuses: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send one request, retrying what is safe; return the 2xx answer or raise.

        `idempotent` defaults to True except for POST; reads done with POST pass True.
        `retry_statuses` adds statuses the caller knows mean "not applied, try again later".
        """
        method = method.upper()
        url = self._resolve(path_or_url, endpoint)
        safe = method != "POST" if idempotent is None else idempotent
        attempt = 0
        while True:
            try:
                response = self._send(method, url, endpoint, params, json)
            except httpx.TransportError as error:
                failure, kind, wait = self._classify_transport(error, endpoint, safe, attempt)
            else:
                if response.is_success:
                    return response
                failure, kind, wait = self._classify_status(response, endpoint, safe, retry_statuses, attempt)
            if attempt >= self._max_retries:
                raise failure
            attempt += 1
            self._retry(kind, failure, wait, attempt)

    def request_json(
        self,
        method: str,
        path_or_url: str,
        *,
        endpoint: str,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        retry_statuses: frozenset[int] = frozenset(),
    ) -> Any:
        """`request`, then the answer's JSON body (an `ApiError` if it is not JSON)."""
        response = self.request(
            method,
            path_or_url,
            endpoint=endpoint,
            params=params,
            json=json,
            idempotent=idempotent,
            retry_statuses=retry_statuses,
        )
        return self._decode(response, endpoint)

    def pages(
        self, path: str, *, endpoint: str, params: Params | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """The `results` of each page of a Tempo listing, following `metadata.next`."""
        return self._tempo_pages("GET", path, endpoint, params, None, self._parsed_page)

    def raw_pages(self, path: str, *, endpoint: str, params: Params | None = None) -> Iterator[RawPage]:
        """Like `pages`, each page left as the bytes that arrived (see `RawPage`)."""
        return self._tempo_pages("GET", path, endpoint, params, None, self._raw_page)

    def post_pages(
        self, path: str, *, endpoint: str, body: dict[str, Any], params: Params | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Like `pages` for Tempo's POST searches: each `next` link gets the same body again."""
        return self._tempo_pages("POST", path, endpoint, params, body, self._parsed_page)

    def close(self) -> None:
        self._client.close()

    # ----- sending

    def _send(
        self, method: str, url: httpx.URL, endpoint: str, params: Params | None, body: Any
    ) -> httpx.Response:
        """One attempt, following same-service redirects (each hop paced and counted)."""
        for _ in range(MAX_REDIRECTS + 1):
            self._pacer.wait()
            self._count(self.calls, endpoint)
            response = self._client.request(method, url, params=params, json=body)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or location is None:
                return response
            url = self._resolve(str(response.url.join(location)), endpoint)
            params = None  # the Location carries the whole query
            if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                method, body = "GET", None
        raise ApiError(
            service=self.service,
            endpoint=endpoint,
            status=None,
            message=f"more than {MAX_REDIRECTS} redirects",
        )

    def _resolve(self, path_or_url: str, endpoint: str) -> httpx.URL:
        """An absolute URL below the base URL; anything else is refused before sending."""
        if path_or_url.startswith("/"):
            # Joined by hand: httpx's base_url merging would drop the base URL's path prefix.
            url = httpx.URL(str(self._base) + path_or_url)
        else:
            url = httpx.URL(path_or_url)
        if not self._is_pinned(url):
            origin = f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")
            raise UnsafeUrlError(
                service=self.service,
                endpoint=endpoint,
                status=None,
                message=f"refused to send a request to {origin}{url.path}: it is not below {self._base}",
            )
        return url

    def _is_pinned(self, url: httpx.URL) -> bool:
        base = self._base
        same_origin = (
            url.scheme == base.scheme
            and url.host == base.host
            and _port(url) == _port(base)
            and not url.userinfo
        )
        segments = url.path.split("/")
        prefix = base.path.rstrip("/")
        below = url.path == prefix or url.path.startswith(prefix + "/")
        return same_origin and below and "." not in segments and ".." not in segments

    # ----- failures and retries

    def _classify_transport(
        self, error: httpx.TransportError, endpoint: str, safe: bool, attempt: int
    ) -> tuple[ApiError, str, float]:
        """The failure, its retry kind and the wait; raises at once when a retry is unsafe."""
        message = f"{type(error).__name__}: {error}".rstrip(": ")
        if _certificate_refused(error):
            # No retry can fix a certificate; failing at once names the problem instead of backing off.
            raise ApiError(
                service=self.service,
                endpoint=endpoint,
                status=None,
                message=f"{message} (the server's TLS certificate could not be verified; verification"
                " cannot be switched off: trust its authority through SSL_CERT_FILE or fix the certificate)",
            ) from error
        if not safe and not isinstance(error, _NOT_SENT):
            raise OutcomeUnknownError(
                service=self.service, endpoint=endpoint, status=None, message=message
            ) from error
        failure = ApiError(service=self.service, endpoint=endpoint, status=None, message=message)
        return failure, "transport", self._backoff(attempt)

    def _classify_status(
        self,
        response: httpx.Response,
        endpoint: str,
        safe: bool,
        retry_statuses: frozenset[int],
        attempt: int,
    ) -> tuple[ApiError, str, float]:
        """The failure, its retry kind and the wait; raises at once when no retry can help."""
        status = response.status_code
        failure = ApiError(
            service=self.service, endpoint=endpoint, status=status, message=error_message(response)
        )
        if status in RETRYABLE_5XX and not safe:
            raise OutcomeUnknownError(
                service=self.service, endpoint=endpoint, status=status, message=failure.message
            )
        if status == 429 or status in retry_statuses:
            kind = str(status)
        elif status in RETRYABLE_5XX:
            kind = "5xx"
        else:
            raise failure
        wait = retry_after_seconds(response, datetime.now(UTC))
        return failure, kind, self._backoff(attempt) if wait is None else wait

    def _retry(self, kind: str, failure: ApiError, wait: float, attempt: int) -> None:
        self._count(self.retried, kind)
        log.warning(
            "%s %s: %s (%s); retry %d of %d in %.2f s",
            self.service,
            failure.endpoint,
            failure.status if failure.status is not None else "no answer",
            failure.message,
            attempt,
            self._max_retries,
            wait,
        )
        if kind == "429":
            # Everyone sharing the credential waits, or the other threads keep the bucket empty.
            self._pacer.pause(wait)
        else:
            time.sleep(wait)

    def _backoff(self, attempt: int) -> float:
        delay = min(self._backoff_seconds * 2**attempt, MAX_BACKOFF_SECONDS)
        # Jitter spreads out clients that failed together; never below the base delay,
        # since Tempo asks for at least a second after a 429.
        return delay * random.uniform(1.0, 1.5)  # noqa: S311 - jitter, not a secret

    def _count(self, counter: Counter[str], key: str) -> None:
        with self._counter_lock:
            counter[key] += 1

    # ----- paging and bodies

    def _tempo_pages(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Params | None,
        body: dict[str, Any] | None,
        read: Callable[[httpx.Response, str], tuple[T, str | None]],
    ) -> Iterator[T]:
        """Each page as `read` makes it from the answer, following the `next` link it finds."""
        url, query = path, params
        for _ in range(MAX_PAGES):
            response = self.request(method, url, endpoint=endpoint, params=query, json=body, idempotent=True)
            page, next_url = read(response, endpoint)
            yield page
            if not next_url:
                return
            url, query = next_url, None  # the next link carries the whole query
        raise ApiError(
            service=self.service, endpoint=endpoint, status=None, message=f"more than {MAX_PAGES} pages"
        )

    def _parsed_page(
        self, response: httpx.Response, endpoint: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        page = self._decode(response, endpoint)
        results = page.get("results") if isinstance(page, dict) else None
        metadata = page.get("metadata") if isinstance(page, dict) else None
        if not isinstance(results, list) or not isinstance(metadata, dict):
            raise self._malformed(endpoint, "a page without 'results' and 'metadata'")
        return results, _next_link(metadata)

    def _raw_page(self, response: httpx.Response, endpoint: str) -> tuple[RawPage, str | None]:
        found = _PAGE_METADATA.search(response.content)
        try:
            metadata = jsonlib.loads(found.group(1)) if found else None
        except (jsonlib.JSONDecodeError, UnicodeDecodeError):
            metadata = None
        if not isinstance(metadata, dict) or not isinstance(metadata.get("count"), int):
            raise self._malformed(endpoint, "a page without 'metadata' and its 'count'")
        return RawPage(response.content, metadata["count"]), _next_link(metadata)

    def _decode(self, response: httpx.Response, endpoint: str) -> Any:
        try:
            return response.json()
        except (jsonlib.JSONDecodeError, UnicodeDecodeError):
            raise self._malformed(endpoint, "an answer that is not JSON") from None

    def _malformed(self, endpoint: str, what: str) -> ApiError:
        return ApiError(service=self.service, endpoint=endpoint, status=None, message=f"unexpected {what}")


def error_message(response: httpx.Response) -> str:
    """Readable text of an error answer: Tempo's and Jira's JSON errors, else the page's text."""
    text = response.text
    if not text.strip():
        return response.reason_phrase or f"HTTP {response.status_code}"
    try:
        body = jsonlib.loads(text)
    except jsonlib.JSONDecodeError:
        return _plain_text(text) or response.reason_phrase
    messages = _json_messages(body)
    return "; ".join(messages) if messages else _truncate(" ".join(text.split()))


def _json_messages(body: object) -> list[str]:
    """Tempo `{"errors": [{"message"}]}` or `{"errors": {"message"}}`; Jira's ErrorCollection."""
    if not isinstance(body, dict):
        return []
    messages = [str(m) for m in body.get("errorMessages") or [] if m]
    errors = body.get("errors")
    if isinstance(errors, list):
        messages += [str(e.get("message")) if isinstance(e, dict) else str(e) for e in errors]
    elif isinstance(errors, dict):
        messages += [str(v) if k == "message" else f"{k}: {v}" for k, v in errors.items()]
    if not messages and isinstance(body.get("message"), str):
        messages.append(body["message"])
    return messages


def _plain_text(page: str) -> str:
    """An HTML (or any text) page as one line of visible text."""
    visible = _TAG.sub(" ", _INVISIBLE_HTML.sub(" ", page))
    return _truncate(" ".join(html.unescape(visible).split()))


def _truncate(text: str) -> str:
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def retry_after_seconds(response: httpx.Response, now: datetime) -> float | None:
    """The answer's `Retry-After` in seconds (a number or an HTTP-date), or None."""
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_WAIT_SECONDS)


def _next_link(metadata: dict[str, Any]) -> str | None:
    link = metadata.get("next")
    return str(link) if link else None


def _port(url: httpx.URL) -> int | None:
    return url.port or _DEFAULT_PORTS.get(url.scheme)


class ApiResource(dg.ConfigurableResource, ABC):
    """A Dagster resource holding one `ApiSession`, opened on first use.

    Opening lazily lets the same object work inside a Dagster run and when built directly
    (scripts, tests); Dagster closes it after the run through `teardown_after_execution`.
    """

    _session: ApiSession | None = PrivateAttr(default=None)

    @abstractmethod
    def _new_session(self) -> ApiSession: ...

    def _api(self) -> ApiSession:
        with _SESSION_LOCK:
            if self._session is None:
                self._session = self._new_session()
            return self._session

    @property
    def calls(self) -> Counter[str]:
        """HTTP requests sent so far, by endpoint label (retries and redirects included)."""
        return self._api().calls

    @property
    def retried(self) -> Counter[str]:
        """Retries done so far, by cause ("429", "5xx", "transport" or a caller's status)."""
        return self._api().retried

    def close(self) -> None:
        """Close the session; a later call opens a new one."""
        with _SESSION_LOCK:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _tls_context() -> ssl.SSLContext:
    """The verifying TLS context every session shares, trusting what httpx would trust.

    Building one loads every trusted authority (about 80 ms) and a run opens a session per site
    and service, so each trust setting is built once per process.
    """
    return _tls_context_trusting(os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))


@functools.lru_cache(maxsize=4)
def _tls_context_trusting(cert_file: str, cert_dir: str) -> ssl.SSLContext:
    if cert_file:
        return ssl.create_default_context(cafile=cert_file)
    if cert_dir:
        return ssl.create_default_context(capath=cert_dir)
    return httpx.create_ssl_context(trust_env=False)  # certifi's authorities


def _certificate_refused(error: BaseException) -> bool:
    """Whether a transport error comes from a TLS certificate that failed verification."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
