"""Bad input gets what the real service would answer (a 4xx with its error body), never a 5xx.

Hypothesis generates bodies, query parameters and path ids for every endpoint; the
contract-checked clients validate every answer, and the sandbox counts internal errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.config import RateLimits, SandboxConfig
from sandbox.server import SandboxServer
from tests.conftest import TEST_CLOCK
from tests.support.contract import ContractChecker
from tests.support.sandbox import SiteClients, site_clients

TEMPO_ENDPOINTS = [
    ("GET", "/4/worklogs"),
    ("POST", "/4/worklogs"),
    ("POST", "/4/worklogs/search"),
    ("POST", "/4/worklogs/tempo-to-jira"),
    ("POST", "/4/worklogs/jira-to-tempo"),
    ("POST", "/4/worklogs/issue/{issueId}/bulk"),
    ("GET", "/4/worklogs/{id}"),
    ("PUT", "/4/worklogs/{id}"),
    ("DELETE", "/4/worklogs/{id}"),
    ("GET", "/4/work-attributes"),
    ("GET", "/4/permission-roles"),
]
JIRA_ENDPOINTS = [
    ("GET", "/rest/api/3/mypermissions"),
    ("GET", "/rest/api/3/user"),
    ("GET", "/rest/api/3/user/bulk"),
    ("GET", "/rest/api/3/user/search"),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}"),
    ("GET", "/rest/api/3/search/jql"),
    ("POST", "/rest/api/3/search/jql"),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}/worklog"),
    ("POST", "/rest/api/3/issue/{issueIdOrKey}/worklog"),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}"),
    ("PUT", "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}"),
    ("DELETE", "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}"),
    ("GET", "/rest/api/3/worklog/updated"),
    ("GET", "/rest/api/3/worklog/deleted"),
    ("POST", "/rest/api/3/worklog/list"),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}/worklog/{worklogId}/properties"),
    ("PUT", "/rest/api/3/issue/{issueIdOrKey}/worklog/{worklogId}/properties/{propertyKey}"),
]
FIELDS = [
    "authorAccountId", "issueId", "startDate", "startTime", "timeSpentSeconds", "billableSeconds",
    "description", "remainingEstimateSeconds", "attributes", "from", "to", "updatedFrom", "authorIds",
    "issueIds", "projectIds", "orderBy", "tempoWorklogIds", "jiraWorklogIds", "jql", "nextPageToken",
    "maxResults", "fields", "started", "timeSpent", "comment", "properties", "visibility", "key", "value",
    "ids",
]  # fmt: skip
PARAMS = [
    "from", "to", "updatedFrom", "offset", "limit", "orderBy", "projectId", "issueId", "accountId",
    "query", "startAt", "maxResults", "permissions", "projectKey", "issueKey", "jql", "fields",
    "nextPageToken", "expand", "adjustEstimate", "newEstimate", "reduceBy", "notifyUsers",
    "startedAfter", "startedBefore", "property", "since", "increaseBy",
]  # fmt: skip
# Values near the real ones reach deeper checks than pure noise does.
PLAUSIBLE = st.sampled_from([
    "2025-03-05", "2025-02-30", "09:00:00", "24:00:00", "2025-03-05T10:00:00Z",
    "2025-03-05T10:00:00.000+0100",
    "ACME-1", "acme-1", "NOPE-1", "20060", "10001", "0", "-1", "99999999999999999999", "", " ", "1h 30m",
    "project = ACME", "key in (ACME-1", "_Activity_", "design", "ID", "DESC", "*all", "properties", "new",
])  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | PLAUSIBLE
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)
BODIES = (
    st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=8)
    | JSON
    | st.lists(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6), max_size=3)
)
QUERIES = st.dictionaries(
    st.sampled_from(PARAMS), st.lists(PLAUSIBLE | st.text(max_size=12), min_size=1, max_size=2), max_size=5
)
IDS = PLAUSIBLE | st.text(min_size=1, max_size=12)


@dataclass
class Target:
    server: SandboxServer
    source: SiteClients
    destination: SiteClients


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Iterator[Target]:
    config = SandboxConfig(
        state_dir=tmp_path_factory.mktemp("fuzz"), rate_limits=RateLimits.unlimited(), clock=TEST_CLOCK
    )
    checker = ContractChecker()
    with SandboxServer(config) as server:
        clients = Target(
            server, site_clients(server, "source", checker), site_clients(server, "destination", checker)
        )
        yield clients
        clients.source.close()
        clients.destination.close()
        assert server.app.sandbox.stats.internal_errors == 0


def fill(path: str, ids: st.DataObject) -> str:
    for name in ("{issueId}", "{id}", "{issueIdOrKey}", "{worklogId}", "{propertyKey}"):
        if name in path:
            path = path.replace(name, quote(ids.draw(IDS), safe=""))
    return path


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    endpoint=st.sampled_from(
        [("tempo", *e) for e in TEMPO_ENDPOINTS] + [("jira", *e) for e in JIRA_ENDPOINTS]
    ),
    site=st.sampled_from(["source", "destination"]),
    body=BODIES,
    query=QUERIES,
    data=st.data(),
)
def test_no_input_makes_the_sandbox_fail(target: Target, endpoint, site, body, query, data):
    service, method, template = endpoint
    clients = getattr(target, site)
    client: httpx.Client = getattr(clients, service)
    path = fill(template, data)
    content = json.dumps(body) if method in ("POST", "PUT") else None
    response = client.request(method, path, params=query, content=content)
    assert response.status_code < 500, (method, path, query, body, response.text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=60) | st.sampled_from([b"{", b"[1,", b"\xff\xfe", b'{"a": NaN}', b"", b"null"]))
def test_malformed_json_is_a_400_in_the_services_own_shape(target: Target, raw: bytes):
    tempo = target.destination.tempo.post("/4/worklogs", content=raw)
    jira = target.destination.jira.post("/rest/api/3/issue/ACME-1/worklog", content=raw)
    assert tempo.status_code == 400
    assert tempo.json()["errors"][0]["message"]
    assert jira.status_code == 400
    body = jira.json()
    assert body["errorMessages"] or body["errors"]
