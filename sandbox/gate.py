"""What stands in front of every emulated service: the gateway's behaviour.

In order: latency, injected 5xx and 429, authentication, the per-credential rate limit,
a test's hold (sandbox.holds), the handler, then the response faults (a POST, PUT or DELETE
applied but its answer lost, an answer slower than the client waits). Every request is counted
by endpoint and status. An unexpected exception becomes a bare 500 (counted as an internal
error, never a traceback in the body): bad input must get the service's own 4xx instead, and
tests check that no request ever hit an internal error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match, Route

from sandbox.config import CREDENTIALS, Faults, RateLimits
from sandbox.context import CALLER_KEY, SITE_KEY, Caller, Site
from sandbox.holds import Hold, Holds
from sandbox.responses import ApiError, html_error, jira_error, tempo_error

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("sandbox")


class TokenBucket:
    """`rate` requests per second on average, at most `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = max(burst, 1)
        self.tokens = float(self.capacity)
        self.updated = time.monotonic()

    def take(self) -> float:
        """0 if the request may pass, else the seconds until it could."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class Stats:
    """Request and fault counters of one server process (its one event loop updates them)."""

    requests: Counter[tuple[str, str, str, int]] = field(default_factory=Counter)
    in_flight: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    internal_errors: int = 0

    def count(self, site: str, service: str, endpoint: str, status: int) -> None:
        self.requests[(site, service, endpoint, status)] += 1

    def fault(self, kind: str) -> None:
        self.faults[kind] += 1

    def snapshot(self) -> dict[str, object]:
        rows = [
            {"site": site, "service": service, "endpoint": endpoint, "status": status, "count": n}
            for (site, service, endpoint, status), n in sorted(self.requests.items())
        ]
        busy = [
            {"site": site, "service": service, "endpoint": endpoint, "count": n}
            for (site, service, endpoint), n in sorted(self.in_flight.items())
            if n
        ]
        return {
            "requests": rows,
            "in_flight": busy,
            "total": sum(self.requests.values()),
            "faults": dict(sorted(self.faults.items())),
            "internal_errors": self.internal_errors,
        }

    def reset(self) -> None:
        self.requests.clear()
        self.faults.clear()
        self.internal_errors = 0


class FaultState:
    """The server's current faults; switchable while it runs."""

    def __init__(self, faults: Faults) -> None:
        self.set(faults)

    def set(self, faults: Faults) -> None:
        faults.validate()
        self.faults = faults
        self.random = random.Random(faults.seed)

    def draw(self, share: float) -> bool:
        return share > 0 and self.random.random() < share


@dataclass
class Buffered:
    """A response captured from the handler, delivered (or not) afterwards."""

    start: Message | None = None
    body: list[Message] = field(default_factory=list)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        else:
            self.body.append(message)

    @property
    def status(self) -> int:
        return 500 if self.start is None else int(self.start["status"])

    @property
    def has_body(self) -> bool:
        return any(message.get("body") for message in self.body)


class ServiceGate:
    """The ASGI app for one site's Jira or Tempo."""

    def __init__(
        self,
        site: Site,
        service: str,
        routes: list[Route],
        *,
        limits: RateLimits,
        faults: FaultState,
        stats: Stats,
        holds: Holds,
        enabled: bool = True,
    ) -> None:
        self.site = site
        self.service = service
        self.routes = routes
        self.faults = faults
        self.holds = holds
        self.stats = stats
        self.enabled = enabled
        self.credentials = CREDENTIALS[site.name]
        rate, burst = (
            (limits.tempo_per_second, limits.tempo_burst)
            if service == "tempo"
            else (limits.jira_per_second, limits.jira_burst)
        )
        self.rate, self.burst = rate, burst
        self.buckets: dict[str, TokenBucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route, child_scope, label = self._match(scope)
        busy = (self.site.name, self.service, label)
        self.stats.in_flight[busy] += 1
        try:
            await self._serve(scope, receive, send, route, child_scope, label)
        finally:
            self.stats.in_flight[busy] -= 1

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: Route | None,
        child_scope: dict[str, Any],
        label: str,
    ) -> None:
        buffered = Buffered()
        faults = (
            self.faults.faults if self.faults.faults.applies_to(self.site.name, self.service) else Faults()
        )
        await self._delay(faults)
        response = self._injected(faults) or self._authenticate(scope)
        if response is None:
            response = self._rate_limited(scope, faults)
        hold = None if response is not None else self.holds.catch(self.site.name, self.service, label)
        if hold is not None and hold.when == "before":
            await self._held_before(scope, receive, send, hold)
            return
        if response is not None:
            await response(scope, receive, buffered.send)
        else:
            await self._handle(route, {**scope, **child_scope}, receive, buffered, label)
            if buffered.start is None:
                return  # the client left while its body arrived: nothing to count or answer
        self.stats.count(self.site.name, self.service, label, buffered.status)
        if hold is not None:
            await self._held_after(buffered, send, hold)
            return
        await self._deliver(scope, buffered, faults, send)

    async def _held_before(self, scope: Scope, receive: Receive, send: Send, hold: Hold) -> None:
        await self.holds.wait(hold)
        self.stats.fault("held_then_dropped")
        # Not applied: a client still listening hears so, as from a gateway that gave up.
        await html_error(503)(scope, receive, send)

    async def _held_after(self, buffered: Buffered, send: Send, hold: Hold) -> None:
        await self.holds.wait(hold)
        self.stats.fault("held_then_unanswered")
        await _lose(buffered, send)

    # ----- routing

    def _match(self, scope: Scope) -> tuple[Route | None, dict[str, Any], str]:
        method = scope["method"]
        partial = None
        for route in self.routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return route, child_scope, f"{method} {route.path}"
            if match is Match.PARTIAL and partial is None:
                partial = route
        if partial is not None:
            return None, {}, f"{method} {partial.path}"
        return None, {}, f"{method} (no such endpoint)"

    async def _handle(
        self, route: Route | None, scope: Scope, receive: Receive, buffered: Buffered, label: str
    ) -> None:
        if route is None:
            if label.endswith("(no such endpoint)"):
                response = self._error(404, "No such endpoint.")
            else:
                response = self._error(405, "Method not allowed.")
        else:
            request = Request(scope, receive)
            try:
                response = await route.endpoint(request)
            except ApiError as error:
                response = error.response(self.site.config.profile)
            except ClientDisconnect:
                # The client died while its body was still arriving: nothing was applied, and
                # nobody is left to answer (a test's kill -9 can land there).
                self.stats.fault("client_gone")
                return
            except Exception:
                log.exception("sandbox bug while answering %s", label)
                self.stats.internal_errors += 1
                response = self._error(500, "Internal server error.")
        await response(scope, receive, buffered.send)

    # ----- gateway behaviour

    async def _delay(self, faults: Faults) -> None:
        if faults.latency_ms or faults.jitter_ms:
            self.stats.fault("latency")
            jitter = self.faults.random.random() * faults.jitter_ms
            await asyncio.sleep((faults.latency_ms + jitter) / 1000)

    def _injected(self, faults: Faults) -> Response | None:
        if self.faults.draw(faults.share_5xx):
            self.stats.fault("injected_5xx")
            status = self.faults.random.choice((500, 502, 503, 504))
            if status == 500:
                return self._error(500, "Internal server error.")
            headers = {"Retry-After": str(faults.retry_after_seconds)} if status == 503 else None
            return html_error(status, headers=headers)
        if self.faults.draw(faults.share_429):
            self.stats.fault("injected_429")
            return self._too_many(float(faults.retry_after_seconds), faults)
        return None

    def _authenticate(self, scope: Scope) -> Response | None:
        header = _header(scope, b"authorization")
        caller: Caller | None = None
        if self.service == "tempo":
            token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
            if self.enabled and token in (
                self.credentials.tempo_token,
                self.credentials.tempo_read_only_token,
            ):
                user = self.site.repo.integration_user()
                caller = Caller(user, can_write=token == self.credentials.tempo_token)
            else:
                return html_error(401)
        elif _basic(header) == (self.credentials.jira_email, self.credentials.jira_token):
            caller = Caller(self.site.repo.integration_user(), can_write=True)
        else:
            return jira_error(
                401,
                ["You are not authenticated. Authentication required to perform this operation."],
            )
        scope[SITE_KEY] = self.site
        scope[CALLER_KEY] = caller
        return None

    def _rate_limited(self, scope: Scope, faults: Faults) -> Response | None:
        if self.rate <= 0:
            return None
        credential = _header(scope, b"authorization")
        bucket = self.buckets.get(credential)
        if bucket is None:
            bucket = self.buckets[credential] = TokenBucket(self.rate, self.burst)
        wait = bucket.take()
        if wait == 0:
            return None
        self.stats.fault("rate_limited")
        return self._too_many(wait, faults)

    def _too_many(self, wait: float, faults: Faults) -> Response:
        seconds = max(math.ceil(wait), 1)
        headers: dict[str, str] = {}
        if self.service == "jira":
            reset = datetime.now(UTC) + timedelta(seconds=seconds)
            headers = {
                "Retry-After": str(seconds),
                "X-RateLimit-Limit": str(self.burst),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%MZ"),
            }
            return jira_error(429, ["Rate limit exceeded."], headers=headers)
        if not faults.omit_retry_after:
            headers["Retry-After"] = str(seconds)
        shape = self.site.config.profile.tempo_error_shape
        return tempo_error(429, "Rate limit exceeded.", shape=shape, headers=headers)

    def _error(self, status: int, message: str) -> Response:
        if self.service == "jira":
            return jira_error(status, [message])
        return tempo_error(status, message, shape=self.site.config.profile.tempo_error_shape)

    async def _deliver(self, scope: Scope, buffered: Buffered, faults: Faults, send: Send) -> None:
        assert buffered.start is not None
        share, counter = {
            "POST": (faults.share_lost_post, "lost_response"),
            "PUT": (faults.share_lost_change, "lost_change"),
            "DELETE": (faults.share_lost_change, "lost_change"),
        }.get(scope["method"], (0.0, ""))
        if 200 <= buffered.status < 300 and self.faults.draw(share):
            self.stats.fault(counter)
            await _lose(buffered, send)
            return
        if self.faults.draw(faults.share_slow):
            self.stats.fault("slow")
            await asyncio.sleep(faults.slow_seconds)
        await send(buffered.start)
        for message in buffered.body:
            await send(message)


async def _lose(buffered: Buffered, send: Send) -> None:
    """Leave a request that was applied without a complete answer: the connection closes.

    An answer with a body is cut after its headers. One without (a 204) is complete with its
    headers alone, so there the connection closes before them, as when a connection drops
    after the write.
    """
    assert buffered.start is not None
    if buffered.has_body:
        await send(buffered.start)
        return
    # ASGI has no message that closes a connection unanswered; the transport is reached through
    # the uvicorn request cycle whose bound ``send`` the gate was given.
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if not callable(getattr(transport, "close", None)):  # uvloop's transports are no asyncio classes
        raise RuntimeError("closing a connection unanswered needs the sandbox's uvicorn server")
    transport.close()
    await asyncio.sleep(0)  # uvicorn notes the lost connection, so it does not answer 500 itself


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def _basic(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    email, separator, token = decoded.partition(":")
    return (email, token) if separator else None
