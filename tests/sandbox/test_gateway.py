"""The gateway in front of every service: rate limits, fault injection and request counters."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from sandbox.config import CREDENTIALS, Faults, RateLimits

PAGE = {"from": "2025-03-05", "to": "2025-03-05", "limit": 1}


def new_worklog(admin) -> dict[str, object]:
    author = next(p for p in admin.people() if p["kind"] == "normal")["destination"]["account_id"]
    return {"authorAccountId": author, "issueId": 20060, "startDate": "2025-03-18", "timeSpentSeconds": 600}


def test_tempo_rate_limit_is_5_per_second_per_token_by_default(start_sandbox, connect):
    server = start_sandbox(rate_limits=RateLimits())
    source, destination = connect(server, "source"), connect(server, "destination")
    answers = [source.tempo.get("/4/worklogs", params=PAGE) for _ in range(8)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [200] * 5  # a full bucket lets a burst of 5 through
    limited = [a for a in answers if a.status_code == 429]
    assert limited
    assert all(int(a.headers["Retry-After"]) >= 1 for a in limited)
    assert limited[0].json()["errors"][0]["message"] == "Rate limit exceeded."
    # Each token has its own bucket.
    assert destination.tempo.get("/4/worklogs", params=PAGE).status_code == 200
    with server.admin() as admin:
        assert admin.stats()["faults"]["rate_limited"] == len(limited)
        assert admin.count("source", "tempo", "GET /4/worklogs", 429) == len(limited)


def test_jira_rate_limit_is_configurable(start_sandbox, connect):
    server = start_sandbox(rate_limits=RateLimits(jira_per_second=1, jira_burst=2, tempo_per_second=0))
    source = connect(server, "source")
    statuses = [source.jira.get("/rest/api/3/myself").status_code for _ in range(4)]
    assert statuses[:2] == [200, 200]
    assert 429 in statuses
    limited = source.jira.get("/rest/api/3/myself")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.json()["errorMessages"] == ["Rate limit exceeded."]
    # Tempo's limit is off in this server.
    assert all(source.tempo.get("/4/worklogs", params=PAGE).status_code == 200 for _ in range(20))


def test_injected_429_and_5xx(sandbox, admin, source):
    admin.set_faults(share_429=1.0, retry_after_seconds=3)
    throttled = source.tempo.get("/4/worklogs", params=PAGE)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "3"
    admin.set_faults(share_429=1.0, omit_retry_after=True)
    assert "Retry-After" not in source.tempo.get("/4/worklogs", params=PAGE).headers
    admin.set_faults(share_5xx=1.0, seed=4)
    statuses = {source.jira.get("/rest/api/3/myself").status_code for _ in range(30)}
    assert statuses == {500, 502, 503, 504}
    admin.set_faults()
    assert source.jira.get("/rest/api/3/myself").status_code == 200
    faults = admin.stats()["faults"]
    assert faults["injected_429"] == 2
    assert faults["injected_5xx"] == 30


def test_a_share_of_faults_is_a_share(sandbox, admin, source):
    admin.set_faults(share_5xx=0.3, seed=1)
    statuses = [source.tempo.get("/4/worklogs", params=PAGE).status_code for _ in range(200)]
    failed = sum(status >= 500 for status in statuses)
    assert 30 <= failed <= 90  # 60 expected; the seed makes it repeatable


def test_lost_post_is_applied_but_unanswered(sandbox, admin, destination):
    admin.set_faults(share_lost_post=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        destination.tempo.post("/4/worklogs", json=new_worklog(admin))
    (stored,) = admin.changed_worklogs("destination")  # it was created all the same
    assert stored["time_spent"] == 600
    # Reads are never lost, and a refused POST is not applied, so its answer arrives.
    assert destination.tempo.get("/4/worklogs", params=PAGE).status_code == 200
    assert destination.tempo.post("/4/worklogs", json={}).status_code == 400
    assert admin.stats()["faults"]["lost_response"] == 1


def test_slow_answers_outlast_a_client_timeout(sandbox, admin, destination):
    admin.set_faults(share_slow=1.0, slow_seconds=2.0)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        destination.tempo.post("/4/worklogs", json=new_worklog(admin), timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert len(admin.changed_worklogs("destination")) == 1  # applied, then answered too late


def test_latency_and_jitter_delay_every_answer(sandbox, admin, source):
    admin.set_faults(latency_ms=150, jitter_ms=50)
    started = time.monotonic()
    for _ in range(3):
        source.jira.get("/rest/api/3/myself").raise_for_status()
    assert time.monotonic() - started >= 0.45  # a floor: noise only ever adds time
    assert admin.stats()["faults"]["latency"] == 3


def test_faults_can_target_one_service(sandbox, admin, source, destination):
    admin.set_faults(share_5xx=1.0, targets=["destination/tempo"])
    assert destination.tempo.get("/4/worklogs", params=PAGE).status_code >= 500
    assert destination.jira.get("/rest/api/3/myself").status_code == 200
    assert source.tempo.get("/4/worklogs", params=PAGE).status_code == 200


def test_faults_from_the_start_and_bad_fault_settings(start_sandbox, connect):
    server = start_sandbox(faults=Faults(share_429=1.0))
    assert connect(server, "source").tempo.get("/4/worklogs").status_code == 429
    with server.admin() as admin:
        for bad in ({"share_429": 2}, {"surprise": 1}, {"targets": ["moon/tempo"]}, {"latency_ms": -1}):
            with pytest.raises(RuntimeError, match="400"):
                admin.set_faults(**bad)
        assert admin.faults()["share_429"] == 1.0  # a refused change leaves the faults as they were


def test_requests_are_counted_by_endpoint_and_status(sandbox, admin, source):
    admin.reset_stats()
    source.tempo.get("/4/worklogs", params=PAGE)
    source.tempo.get("/4/worklogs/123")
    source.tempo.get("/4/nowhere")
    source.tempo.patch("/4/worklogs")
    source.jira.get("/rest/api/3/issue/ACME-1/worklog")
    rows = {
        (r["site"], r["service"], r["endpoint"], r["status"]): r["count"] for r in admin.stats()["requests"]
    }
    assert rows == {
        ("source", "tempo", "GET /4/worklogs", 200): 1,
        ("source", "tempo", "GET /4/worklogs/{id}", 404): 1,
        ("source", "tempo", "GET (no such endpoint)", 404): 1,
        ("source", "tempo", "PATCH /4/worklogs", 405): 1,
        ("source", "jira", "GET /rest/api/3/issue/{issueIdOrKey}/worklog", 200): 1,
    }
    assert admin.stats()["total"] == 5
    assert admin.stats()["in_flight"] == []


def test_omitting_retry_after_follows_the_fault_targets(start_sandbox, connect):
    faults = Faults(omit_retry_after=True, targets=("destination/tempo",))
    server = start_sandbox(rate_limits=RateLimits(tempo_burst=1), faults=faults)
    for site, has_header in (("source", True), ("destination", False)):
        tempo = connect(server, site).tempo
        answers = [tempo.get("/4/worklogs", params=PAGE) for _ in range(3)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited
        assert all(("Retry-After" in a.headers) is has_header for a in limited)


# ----- faults on changes (PUT and DELETE)


def created_worklog(admin, destination) -> tuple[str, str]:
    """A destination worklog made through Tempo: its Tempo path and its Jira path."""
    tempo_id = destination.tempo.post("/4/worklogs", json=new_worklog(admin)).json()["tempoWorklogId"]
    mapping = destination.tempo.post("/4/worklogs/tempo-to-jira", json={"tempoWorklogIds": [tempo_id]})
    jira_id = mapping.json()["results"][0]["jiraWorklogId"]
    return f"/4/worklogs/{tempo_id}", f"/rest/api/3/issue/20060/worklog/{jira_id}"


def stored(admin) -> dict[str, object]:
    (row,) = admin.changed_worklogs("destination")
    return row


def test_a_lost_change_is_applied_but_unanswered(sandbox, admin, destination):
    tempo_path, jira_path = created_worklog(admin, destination)
    update = {**new_worklog(admin), "timeSpentSeconds": 1200}
    admin.set_faults(share_lost_change=1.0)
    with pytest.raises(httpx.RemoteProtocolError):  # the headers came, then the connection closed
        destination.tempo.put(tempo_path, json=update)
    assert stored(admin)["time_spent"] == 1200
    with pytest.raises(httpx.RemoteProtocolError):  # an empty answer is lost with its headers
        destination.jira.put(f"{jira_path}/properties/link", json={"a": 1})
    assert stored(admin)["properties"] == {"link": '{"a": 1}'}
    with pytest.raises(httpx.RemoteProtocolError, match="without sending"):  # a 204, lost before its headers
        destination.jira.delete(jira_path)
    assert stored(admin)["deleted"] is True
    # A refused change is not applied, so its answer arrives; reads and creations are not lost.
    assert destination.jira.delete(jira_path).status_code == 404
    assert destination.tempo.put(tempo_path, json=update).status_code == 404
    assert destination.tempo.post("/4/worklogs", json=new_worklog(admin)).status_code == 200
    assert admin.stats()["faults"]["lost_change"] == 3


def test_the_other_faults_apply_to_changes_too(sandbox, admin, destination):
    tempo_path, jira_path = created_worklog(admin, destination)
    update = {**new_worklog(admin), "timeSpentSeconds": 1200}
    for fault, statuses in (("share_5xx", {500, 502, 503, 504}), ("share_429", {429})):
        admin.set_faults(**{fault: 1.0})
        assert destination.tempo.put(tempo_path, json=update).status_code in statuses
        assert destination.jira.delete(jira_path).status_code in statuses
        assert (stored(admin)["time_spent"], stored(admin)["deleted"]) == (600, False)  # not applied
    admin.set_faults(share_slow=1.0, slow_seconds=2.0, latency_ms=50)
    with pytest.raises(httpx.ReadTimeout):
        destination.tempo.put(tempo_path, json=update, timeout=0.4)
    with pytest.raises(httpx.ReadTimeout):
        destination.jira.delete(jira_path, timeout=0.4)
    assert (stored(admin)["time_spent"], stored(admin)["deleted"]) == (1200, True)  # applied, answered late
    assert admin.stats()["faults"]["latency"] == 2


def wait_until_held(admin) -> None:
    deadline = time.monotonic() + 10
    while not any(hold["waiting"] for hold in admin.holds()):
        assert time.monotonic() < deadline, "the request never reached its hold"
        time.sleep(0.02)


def test_holds_catch_changes(sandbox, admin, destination):
    tempo_path, jira_path = created_worklog(admin, destination)
    update = {**new_worklog(admin), "timeSpentSeconds": 1200}
    delete = "DELETE /rest/api/3/issue/{issueIdOrKey}/worklog/{id}"
    with ThreadPoolExecutor(max_workers=1) as pool:
        admin.hold("destination", "jira", delete, when="before")
        held = pool.submit(destination.jira.delete, jira_path)
        wait_until_held(admin)
        admin.release_holds()
        assert held.result(timeout=10).status_code == 503  # dropped, not applied
        assert stored(admin)["deleted"] is False
        admin.hold("destination", "tempo", "PUT /4/worklogs/{id}", when="after")
        held = pool.submit(destination.tempo.put, tempo_path, json=update)
        wait_until_held(admin)
        assert stored(admin)["time_spent"] == 1200  # applied while its answer waits
        admin.release_holds()
        with pytest.raises(httpx.RemoteProtocolError):
            held.result(timeout=10)
        admin.hold("destination", "jira", delete, when="after")
        held = pool.submit(destination.jira.delete, jira_path)
        wait_until_held(admin)
        admin.release_holds()
        with pytest.raises(httpx.RemoteProtocolError):
            held.result(timeout=10)
    assert stored(admin)["deleted"] is True


def test_a_client_that_dies_while_its_body_arrives_gets_nothing_applied_and_no_internal_error(sandbox, admin):
    # A kill -9 can land while a bulk create's body is still on its way.
    url = httpx.URL(sandbox.urls.destination.tempo)
    token = CREDENTIALS["destination"].tempo_token
    before = len(admin.changed_worklogs("destination"))
    with socket.create_connection((url.host, url.port)) as connection:
        connection.sendall(
            f"POST {url.path}/4/worklogs/issue/20003/bulk HTTP/1.1\r\nHost: {url.host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            'Content-Length: 5000\r\n\r\n[{"authorAccountId": '.encode()
        )
        time.sleep(0.3)  # the gate has the request, and waits for the rest of its body
    deadline = time.monotonic() + 10
    while admin.stats()["faults"].get("client_gone", 0) == 0:
        assert time.monotonic() < deadline, "the sandbox never noticed the client had gone"
        time.sleep(0.05)
    assert sandbox.app.sandbox.stats.internal_errors == 0
    assert len(admin.changed_worklogs("destination")) == before
