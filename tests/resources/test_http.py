"""The HTTP layer: retries, pacing, paging, host pinning, redirects and error messages.

The sandbox produces the faults; a small loopback app stands in only for what the sandbox
never does (links and redirects to another host, odd bodies and headers).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from resources.http import (
    MAX_REDIRECTS,
    MAX_WAIT_SECONDS,
    USER_AGENT,
    ApiError,
    ApiSession,
    BearerAuth,
    OutcomeUnknownError,
    UnsafeUrlError,
    error_message,
    retry_after_seconds,
)
from sandbox.config import CREDENTIALS, Faults, RateLimits
from sandbox.server import bind

TOKEN = CREDENTIALS["source"].tempo_token
DAY = {"from": "2025-03-05", "to": "2025-03-05"}
LIST = "GET /4/worklogs"

Handler = Callable[[Request], Response]


class Loopback:
    """A tiny app on a free loopback port that records every request it receives."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[Request] = []
        self.bodies: list[bytes] = []

        async def endpoint(request: Request) -> Response:
            self.requests.append(request)
            self.bodies.append(await request.body())
            return handler(request)

        methods = ["GET", "POST", "PUT", "DELETE"]
        app = Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._socket = bind("127.0.0.1", 0)
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> Loopback:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the loopback server did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()

    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


@pytest.fixture
def loopback() -> Iterator[Callable[[Handler], Loopback]]:
    started: list[Loopback] = []

    def start(handler: Handler) -> Loopback:
        server = Loopback(handler).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sessions() -> Iterator[Callable[..., ApiSession]]:
    opened: list[ApiSession] = []

    def make(base_url: str, **overrides: object) -> ApiSession:
        settings: dict = {
            "service": "source Tempo",
            "auth": BearerAuth(TOKEN),
            "requests_per_second": 0,
            "backoff_seconds": 0.01,
            **overrides,
        }
        session = ApiSession(base_url=base_url, **settings)
        opened.append(session)
        return session

    yield make
    for session in opened:
        session.close()


def page(results: list[dict], next_url: str | None = None) -> dict:
    metadata: dict = {"count": len(results), "offset": 0, "limit": 50}
    if next_url is not None:
        metadata["next"] = next_url
    return {"self": "x", "metadata": metadata, "results": results}


# ----- error messages


@pytest.mark.parametrize(
    ("status", "body", "content_type", "expected"),
    [
        (400, '{"errors":[{"message":"a"},{"message":"b"}]}', "application/json", "a; b"),
        (400, '{"errors":{"message":"\'date\' must be valid"}}', "application/json", "'date' must be valid"),
        (
            400,
            '{"errorMessages":["Bad JQL."],"errors":{"started":"Invalid date format."}}',
            "application/json",
            "Bad JQL.; started: Invalid date format.",
        ),
        (
            502,
            "<!DOCTYPE html><html><head><title>502</title><style>h1 {color: red}</style></head>"
            "<body><h1>502   Bad\nGateway</h1><p>Try &amp; again</p><script>x()</script></body></html>",
            "text/html",
            "502 Bad Gateway Try & again",
        ),
        (503, "", "text/plain", "Service Unavailable"),
        (500, '{"unexpected": true}', "application/json", '{"unexpected": true}'),
    ],
)
def test_error_message_reads_each_services_bodies(status, body, content_type, expected):
    response = httpx.Response(status, text=body, headers={"Content-Type": content_type})
    assert error_message(response) == expected


def test_error_message_of_a_long_page_is_cut_short():
    response = httpx.Response(500, text="<p>" + "word " * 500 + "</p>")
    message = error_message(response)
    assert message.startswith("word word")
    assert len(message) <= 300


def test_sandbox_errors_become_api_errors_without_retries(sandbox, sessions):
    tempo = sessions(sandbox.urls.source.tempo)
    with pytest.raises(ApiError) as raised:
        tempo.request("GET", "/4/worklogs", endpoint=LIST, params={**DAY, "limit": 5001})
    assert (raised.value.status, raised.value.message) == (400, "'limit' must be between 1 and 5000")
    assert (
        str(raised.value) == "source Tempo GET /4/worklogs answered 400: 'limit' must be between 1 and 5000"
    )

    wrong = sessions(sandbox.urls.source.tempo, auth=BearerAuth("not-the-token"))
    with pytest.raises(ApiError) as unauthorized:
        wrong.request("GET", "/4/worklogs", endpoint=LIST, params=DAY)
    assert (unauthorized.value.status, unauthorized.value.message) == (401, "401 Unauthorized")

    jira = sessions(
        sandbox.urls.destination.jira,
        service="destination Jira",
        auth=httpx.BasicAuth(CREDENTIALS["destination"].jira_email, CREDENTIALS["destination"].jira_token),
    )
    endpoint = "GET /rest/api/3/search/jql"
    with pytest.raises(ApiError) as missing:
        jira.request("GET", "/rest/api/3/search/jql", endpoint=endpoint, params={"jql": "key = CLI-1"})
    assert missing.value.message == "An issue with key 'CLI-1' does not exist for field 'key'."
    assert tempo.calls[LIST] == wrong.calls[LIST] == jira.calls[endpoint] == 1
    assert tempo.retried == wrong.retried == jira.retried == {}


# ----- secrets


def test_secrets_stay_out_of_reprs_errors_and_logs(sandbox, admin, sessions, caplog):
    secret = "sandbox-source-tempo-token-but-wrong"
    basic = httpx.BasicAuth("someone@example.com", secret)
    assert secret not in repr(BearerAuth(secret))
    assert secret not in repr(basic)

    admin.set_faults(share_429=1.0, omit_retry_after=True)
    session = sessions(sandbox.urls.source.tempo, auth=BearerAuth(secret), max_retries=2)
    assert secret not in repr(session)
    with caplog.at_level(logging.DEBUG), pytest.raises(ApiError) as limited:
        session.request("GET", "/4/worklogs", endpoint=LIST, params=DAY)
    admin.set_faults()
    with pytest.raises(ApiError) as refused:
        session.request("GET", "/4/worklogs", endpoint=LIST, params=DAY)
    assert limited.value.status == 429
    assert refused.value.status == 401
    assert len([r for r in caplog.records if r.name == "resources.http"]) == 2
    for text in (
        str(limited.value),
        repr(limited.value),
        str(refused.value),
        repr(refused.value),
        caplog.text,
    ):
        assert secret not in text
        assert "Bearer" not in text
        assert "Authorization" not in text


# ----- retries


def test_429_waits_for_retry_after_and_counts(start_sandbox, sessions, caplog):
    server = start_sandbox(faults=Faults(share_429=0.3, retry_after_seconds=1, seed=3))
    session = sessions(server.urls.source.tempo)
    with caplog.at_level(logging.WARNING, logger="resources.http"):
        results = [
            w for p in session.pages("/4/worklogs", endpoint=LIST, params={**DAY, "limit": 10}) for w in p
        ]
    assert len(results) == 40
    with server.admin() as admin:
        injected = admin.stats()["faults"]["injected_429"]
        assert injected >= 1
        assert session.retried == {"429": injected}
        assert admin.count("source", "tempo", LIST, 429) == injected
        assert session.calls[LIST] == admin.count("source", "tempo", LIST) == 4 + injected
    notices = [r.getMessage() for r in caplog.records]
    assert len(notices) == injected
    assert all("source Tempo GET /4/worklogs: 429" in n and "in 1.00 s" in n for n in notices)


def test_429_without_retry_after_backs_off(sandbox, admin, sessions, caplog):
    admin.set_faults(share_429=0.5, omit_retry_after=True, seed=1)
    session = sessions(sandbox.urls.source.tempo)
    with caplog.at_level(logging.WARNING, logger="resources.http"):
        results = [
            w for p in session.pages("/4/worklogs", endpoint=LIST, params={**DAY, "limit": 10}) for w in p
        ]
    assert len(results) == 40
    injected = admin.stats()["faults"]["injected_429"]
    assert injected >= 1
    assert session.retried == {"429": injected}
    # Backoff from 0.01 s: well under the second a Retry-After would have asked for.
    assert all(" in 0.0" in r.getMessage() or " in 0.1" in r.getMessage() for r in caplog.records)


def test_5xx_on_reads_is_retried(sandbox, admin, sessions):
    admin.set_faults(share_5xx=0.5, retry_after_seconds=0, seed=2)
    session = sessions(sandbox.urls.source.tempo)
    results = [w for p in session.pages("/4/worklogs", endpoint=LIST, params={**DAY, "limit": 10}) for w in p]
    assert len({w["tempoWorklogId"] for w in results}) == 40
    injected = admin.stats()["faults"]["injected_5xx"]
    assert injected >= 1
    assert session.retried == {"5xx": injected}
    assert session.calls[LIST] == 4 + injected


def test_exhausted_retries_raise_the_last_failure(loopback, sessions):
    html = "<html><head><title>Oops</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    server = loopback(lambda request: Response(html, status_code=502, media_type="text/html"))
    session = sessions(server.url, max_retries=3)
    with pytest.raises(ApiError) as raised:
        session.request("GET", "/4/worklogs", endpoint=LIST)
    assert not isinstance(raised.value, OutcomeUnknownError)
    assert (raised.value.status, raised.value.message) == (502, "502 Bad Gateway")
    assert session.retried == {"5xx": 3}
    assert len(server.requests) == session.calls[LIST] == 4


def test_a_create_answered_5xx_is_an_unknown_outcome(loopback, sessions):
    server = loopback(lambda request: Response("<h1>504 Gateway Timeout</h1>", status_code=504))
    session = sessions(server.url)
    with pytest.raises(OutcomeUnknownError) as raised:
        session.request("POST", "/4/worklogs", endpoint="POST /4/worklogs", json={"a": 1})
    assert raised.value.status == 504
    assert len(server.requests) == 1  # never resent: it may have been applied
    assert not session.retried


def test_a_lost_create_is_an_unknown_outcome_yet_applied(sandbox, admin, sessions):
    author = next(p for p in admin.people() if p["kind"] == "normal")["destination"]["account_id"]
    body = {"authorAccountId": author, "issueId": 20060, "startDate": "2025-03-18", "timeSpentSeconds": 600}
    admin.set_faults(share_lost_post=1.0)
    session = sessions(
        sandbox.urls.destination.tempo, auth=BearerAuth(CREDENTIALS["destination"].tempo_token)
    )
    with pytest.raises(OutcomeUnknownError) as raised:
        session.request("POST", "/4/worklogs", endpoint="POST /4/worklogs", json=body)
    assert raised.value.status is None
    assert session.calls["POST /4/worklogs"] == 1
    (stored,) = admin.changed_worklogs("destination")
    assert (stored["issue_id"], stored["time_spent"]) == (20060, 600)


def test_a_create_that_could_not_connect_is_retried(sessions):
    closed = bind("127.0.0.1", 0)
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    session = sessions(f"http://127.0.0.1:{port}/tempo", max_retries=2)
    with pytest.raises(ApiError) as raised:
        session.request("POST", "/4/worklogs", endpoint="POST /4/worklogs", json={})
    assert not isinstance(raised.value, OutcomeUnknownError)  # it never left, so it was not applied
    assert raised.value.status is None
    assert raised.value.message.startswith("ConnectError")
    assert session.retried == {"transport": 2}


def test_a_lost_search_is_retried_as_a_read(sandbox, admin, sessions):
    admin.set_faults(share_lost_post=1.0)
    session = sessions(sandbox.urls.source.tempo, max_retries=2)
    endpoint = "POST /4/worklogs/search"
    with pytest.raises(ApiError) as raised:
        list(session.post_pages("/4/worklogs/search", endpoint=endpoint, body={"from": "2025-03-05"}))
    assert not isinstance(raised.value, OutcomeUnknownError)
    assert raised.value.status is None
    assert "RemoteProtocolError" in raised.value.message
    assert session.retried == {"transport": 2}
    assert admin.stats()["faults"]["lost_response"] == 3


def test_a_timed_out_create_is_an_unknown_outcome(start_sandbox, sessions):
    server = start_sandbox(faults=Faults(share_slow=1.0, slow_seconds=1.0))
    with server.admin() as admin:
        author = next(p for p in admin.people() if p["kind"] == "normal")["destination"]["account_id"]
        session = sessions(
            server.urls.destination.tempo,
            auth=BearerAuth(CREDENTIALS["destination"].tempo_token),
            timeout_seconds=0.2,
        )
        body = {
            "authorAccountId": author,
            "issueId": 20060,
            "startDate": "2025-03-18",
            "timeSpentSeconds": 60,
        }
        with pytest.raises(OutcomeUnknownError) as raised:
            session.request("POST", "/4/worklogs", endpoint="POST /4/worklogs", json=body)
        assert "ReadTimeout" in raised.value.message
        assert len(admin.changed_worklogs("destination")) == 1


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2025, 3, 20, 12, tzinfo=UTC)

    def wait(value: str) -> float | None:
        return retry_after_seconds(httpx.Response(429, headers={"Retry-After": value}), now)

    assert wait("7") == 7.0
    assert wait(format_datetime(now + timedelta(seconds=30), usegmt=True)) == 30.0
    assert wait(format_datetime(now - timedelta(seconds=30), usegmt=True)) == 0.0
    assert wait("999999") == MAX_WAIT_SECONDS
    assert wait("soon") is None
    assert wait("nan") is None
    assert retry_after_seconds(httpx.Response(429), now) is None


def test_an_http_date_retry_after_is_honoured(loopback, sessions, caplog):
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=1), usegmt=True)

    def handler(request: Request) -> Response:
        if len(server.requests) == 1:
            return JSONResponse({"errors": [{"message": "Rate limit exceeded."}]}, 429, {"Retry-After": past})
        return JSONResponse({"ok": True})

    server = loopback(handler)
    session = sessions(server.url)
    with caplog.at_level(logging.WARNING, logger="resources.http"):
        assert session.request_json("GET", "/4/worklogs", endpoint=LIST) == {"ok": True}
    assert session.retried == {"429": 1}
    (notice,) = caplog.records
    assert "GET /4/worklogs: 429 (Rate limit exceeded.)" in notice.getMessage()
    assert "in 0.00 s" in notice.getMessage()


def test_caller_chosen_statuses_are_retried(loopback, sessions):
    def handler(request: Request) -> Response:
        if len(server.requests) in (1, 2, 4):  # busy for two tries, then again for the last call
            return JSONResponse({"errors": [{"message": "There is already a bulk action"}]}, 409)
        return JSONResponse([{"tempoWorklogId": 1}])

    server = loopback(handler)
    session = sessions(server.url)
    endpoint = "POST /4/worklogs/issue/{issueId}/bulk"
    bulk = frozenset({409})
    answer = session.request_json(
        "POST", "/4/worklogs/issue/1/bulk", endpoint=endpoint, json=[{}], retry_statuses=bulk
    )
    assert answer == [{"tempoWorklogId": 1}]
    assert session.retried == {"409": 2}
    assert server.bodies == [b"[{}]"] * 3
    with pytest.raises(ApiError) as raised:
        session.request("POST", "/4/worklogs/issue/1/bulk", endpoint=endpoint, json=[{}])
    assert raised.value.status == 409  # without the opt-in a 409 is final


# ----- pacing


def test_pacing_keeps_threads_under_the_sandbox_rate_limit(start_sandbox, sessions):
    server = start_sandbox(rate_limits=RateLimits())  # Tempo: 5 per second, burst 5
    paced = sessions(server.urls.source.tempo, requests_per_second=4)
    statuses: list[int] = []

    def fetch() -> None:
        for _ in range(3):
            statuses.append(paced.request("GET", "/4/worklogs", endpoint=LIST, params=DAY).status_code)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with server.admin() as admin:
        assert statuses == [200] * 12
        assert admin.stats()["faults"].get("rate_limited", 0) == 0
        assert not paced.retried

        # The same load unpaced does hit the limit (on the other site's token and bucket).
        unpaced = sessions(
            server.urls.destination.tempo,
            auth=BearerAuth(CREDENTIALS["destination"].tempo_token),
            max_retries=0,
        )

        def burst() -> None:
            for _ in range(12):
                unpaced.request("GET", "/4/worklogs", endpoint=LIST, params=DAY)

        with pytest.raises(ApiError) as raised:
            burst()
        assert raised.value.status == 429
        assert admin.stats()["faults"]["rate_limited"] == 1


# ----- paging and host pinning


def test_pages_follow_next_links_below_the_base_url(sandbox, admin, sessions):
    session = sessions(sandbox.urls.source.tempo)
    sizes = [len(p) for p in session.pages("/4/worklogs", endpoint=LIST, params={**DAY, "limit": 15})]
    assert sizes == [15, 15, 10]
    assert session.calls[LIST] == admin.count("source", "tempo", LIST, 200) == 3


def test_post_pages_resend_the_body_with_each_next_link(sandbox, admin, sessions):
    session = sessions(sandbox.urls.source.tempo)
    endpoint = "POST /4/worklogs/search"
    body = {"from": "2025-03-05", "to": "2025-03-05"}
    pages = list(session.post_pages("/4/worklogs/search", endpoint=endpoint, body=body, params={"limit": 15}))
    assert [len(p) for p in pages] == [15, 15, 10]
    assert {w["startDate"] for p in pages for w in p} == {"2025-03-05"}
    assert admin.count("source", "tempo", endpoint, 200) == 3


@pytest.mark.parametrize(
    "target",
    [
        "{foreign}/tempo/4/worklogs?offset=1",  # another port
        "http://localhost:{port}/tempo/4/worklogs?offset=1",  # another host name
        "https://127.0.0.1:{port}/tempo/4/worklogs?offset=1",  # another scheme
        "http://user:pw@127.0.0.1:{port}/tempo/4/worklogs?offset=1",  # credentials in the link
        "{primary}/jira/rest/api/3/myself",  # the same host, outside the base path
        "{primary}/tempo/%2e%2e/jira/rest/api/3/myself",  # climbing out of it
    ],
)
def test_next_links_away_from_the_service_are_refused(loopback, sessions, target):
    foreign = loopback(lambda request: JSONResponse(page([])))

    def handler(request: Request) -> Response:
        link = target.format(foreign=foreign.url, primary=primary.url, port=primary.port)
        return JSONResponse(page([{"n": 1}], next_url=link))

    primary = loopback(handler)
    session = sessions(f"{primary.url}/tempo")
    pages = session.pages("/4/worklogs", endpoint=LIST)
    assert next(pages) == [{"n": 1}]
    with pytest.raises(UnsafeUrlError) as raised:
        next(pages)
    assert "refused" in raised.value.message
    assert primary.paths() == ["/tempo/4/worklogs"]
    assert foreign.requests == []
    assert session.calls[LIST] == 1


def test_raw_pages_keep_the_bytes_and_follow_next_links(sandbox, admin, sessions):
    session = sessions(sandbox.urls.source.tempo)
    pages = list(session.raw_pages("/4/worklogs", endpoint=LIST, params={**DAY, "limit": 15}))
    parsed = list(session.pages("/4/worklogs", endpoint=LIST, params={**DAY, "limit": 15}))
    assert [len(p) for p in pages] == [15, 15, 10]
    assert [list(p) for p in pages] == parsed
    assert all(json.loads(p.body)["results"] == list(p) for p in pages)
    assert admin.count("source", "tempo", LIST, 200) == 6


def test_raw_pages_find_the_metadata_whatever_the_results_say(loopback, sessions):
    tricky = {"description": '"metadata": {"count": 9, "next": "http://elsewhere"}'}
    server = loopback(lambda request: JSONResponse({"results": [tricky], "metadata": {"count": 1}}))
    (only,) = sessions(server.url).raw_pages("/4/worklogs", endpoint=LIST)
    assert len(only) == 1
    assert only[0] == tricky


def test_pages_stop_on_a_malformed_page(loopback, sessions):
    server = loopback(lambda request: JSONResponse({"values": []}))
    with pytest.raises(ApiError, match="unexpected a page without"):
        list(sessions(server.url).pages("/4/worklogs", endpoint=LIST))
    with pytest.raises(ApiError, match="unexpected a page without 'metadata'"):
        list(sessions(server.url).raw_pages("/4/worklogs", endpoint=LIST))


# ----- redirects


def test_redirects_within_the_service_are_followed_with_auth(loopback, sessions):
    def handler(request: Request) -> Response:
        if request.url.path == "/tempo/old":
            return RedirectResponse("/tempo/new?x=1", status_code=302)
        if request.url.path == "/tempo/search-old":
            return RedirectResponse("/tempo/search-new", status_code=307)
        return JSONResponse({"path": request.url.path, "method": request.method})

    server = loopback(handler)
    session = sessions(f"{server.url}/tempo")
    assert session.request_json("GET", "/old", endpoint="GET /old") == {"path": "/tempo/new", "method": "GET"}
    answer = session.request_json("POST", "/search-old", endpoint="POST /s", json={"q": 1}, idempotent=True)
    assert answer == {"path": "/tempo/search-new", "method": "POST"}
    assert server.bodies[-2:] == [b'{"q":1}', b'{"q":1}']  # a 307 keeps the method and body
    assert [r.headers.get("authorization") for r in server.requests] == [f"Bearer {TOKEN}"] * 4
    assert server.requests[1].url.query == "x=1"
    assert session.calls == {"GET /old": 2, "POST /s": 2}


def test_redirects_away_from_the_service_are_refused(loopback, sessions):
    foreign = loopback(lambda request: JSONResponse({"stolen": True}))

    def handler(request: Request) -> Response:
        if request.url.path == "/tempo/away":
            return RedirectResponse(f"{foreign.url}/tempo/4/worklogs", status_code=302)
        return RedirectResponse("/elsewhere/4/worklogs", status_code=301)

    primary = loopback(handler)
    session = sessions(f"{primary.url}/tempo")
    for path in ("/away", "/outside"):
        with pytest.raises(UnsafeUrlError):
            session.request("GET", path, endpoint="GET /x")
    assert foreign.requests == []  # the credential never left
    assert primary.paths() == ["/tempo/away", "/tempo/outside"]


def test_redirect_loops_end(loopback, sessions):
    server = loopback(lambda request: RedirectResponse("/tempo/loop", status_code=302))
    session = sessions(f"{server.url}/tempo")
    with pytest.raises(ApiError, match="more than 5 redirects"):
        session.request("GET", "/loop", endpoint="GET /loop")
    assert session.calls["GET /loop"] == MAX_REDIRECTS + 1


# ----- the rest


def test_requests_carry_the_user_agent(loopback, sessions):
    server = loopback(lambda request: JSONResponse({}))
    sessions(server.url).request("GET", "/x", endpoint="GET /x")
    assert server.requests[0].headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("tempo-sync/")


@pytest.mark.parametrize("base_url", ["ftp://example.com", "/relative", "example.com"])
def test_base_url_must_be_absolute_http(base_url):
    with pytest.raises(ValueError, match="absolute http"):
        ApiSession(service="s", base_url=base_url, auth=BearerAuth("t"), requests_per_second=1)


def test_a_non_json_success_is_an_api_error(loopback, sessions):
    server = loopback(lambda request: Response("<html>maintenance</html>", media_type="text/html"))
    with pytest.raises(ApiError, match="not JSON"):
        sessions(server.url).request_json("GET", "/x", endpoint="GET /x")
