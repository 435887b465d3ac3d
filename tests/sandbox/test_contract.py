"""Contract tests: every emulated operation answers what the official documents describe.

Every test's clients already check each exchange (see ``tests/support/contract.py``); this
module proves that the checker catches violations, and walks every emulated operation with
its own checker to show each one was validated, with a success and with an error, under the
default profile and under profiles that between them take every other value of every switch.
"""

from __future__ import annotations

import json

import httpx
import pytest

from sandbox.config import Profile
from tests.support.contract import ContractChecker, ContractError
from tests.support.sandbox import site_clients

TEMPO = "http://sandbox.test/destination/tempo"
JIRA = "http://sandbox.test/destination/jira"
ADF = {"type": "doc", "version": 1, "content": []}
# Every switch at its second value, then at its last: with the default, every value is walked.
PROFILES = {
    "default": Profile(),
    "second values": Profile(**{name: values[1] for name, values in Profile.choices().items()}),
    "last values": Profile(**{name: values[-1] for name, values in Profile.choices().items()}),
}


def exchange(method: str, url: str, status: int, *, sent: object = None, **answer: object) -> httpx.Response:
    content = None if sent is None else json.dumps(sent).encode()
    request = httpx.Request(method, url, content=content)
    return httpx.Response(status, request=request, **answer)


def worklog(**changes: object) -> dict[str, object]:
    body = {
        "self": f"{TEMPO}/4/worklogs/1",
        "tempoWorklogId": 1,
        "issue": {"self": f"{JIRA}/rest/api/2/issue/1", "id": 1},
        "timeSpentSeconds": 60,
        "startDate": "2025-03-05",
        "createdAt": "2025-03-05T10:00:00Z",
        "updatedAt": "2025-03-05T10:00:00Z",
        "author": {"accountId": "a"},
        "attributes": {"self": f"{TEMPO}/4/worklogs/1/work-attribute-values", "values": []},
    }
    return {**body, **changes}


@pytest.mark.parametrize(
    ("response", "complaint"),
    [
        (exchange("GET", f"{TEMPO}/4/worklogs/1", 200, json=worklog()), None),
        (
            exchange("GET", f"{TEMPO}/4/worklogs/1", 200, json=worklog(tempoWorklogId="1")),
            "is not of type 'integer'",
        ),
        (exchange("GET", f"{TEMPO}/4/worklogs/1", 200, json=worklog(key="X-1")), "Additional properties"),
        (
            exchange("GET", f"{TEMPO}/4/worklogs/1", 200, json=worklog(startDate="5.3.2025")),
            "is not a 'date'",
        ),
        (exchange("GET", f"{TEMPO}/4/worklogs/1", 401, json={"errors": []}), "as text/html"),
        (
            exchange("GET", f"{TEMPO}/4/worklogs/1", 404, json={"errors": {"message": "x"}}),
            "is not of type 'array'",
        ),
        (exchange("GET", f"{TEMPO}/4/worklogs/1", 201, json=worklog()), "does not list"),
        (
            exchange("POST", f"{TEMPO}/4/worklogs", 200, sent={"issueId": "1"}, json=worklog()),
            "request does not match",
        ),
        (
            exchange("GET", f"{JIRA}/rest/api/3/myself", 200, json={"accountId": "a", "nickname": "x"}),
            "Additional properties",
        ),
        (
            exchange(
                "GET", f"{JIRA}/rest/api/3/issue/A-1", 200, json={"id": "1", "fields": {"project": {"id": 1}}}
            ),
            "issue field project",
        ),
        (exchange("GET", f"{JIRA}/rest/api/3/myself", 400, json={"message": "no"}), "Additional properties"),
        (exchange("DELETE", f"{TEMPO}/4/worklogs/1", 204, content=b"{}"), "204 with a body"),
        (
            exchange("GET", f"{JIRA}/rest/api/3/worklog/deleted", 200, json={"values": [{"worklogId": "1"}]}),
            "is not of type 'integer'",
        ),
    ],
)
def test_the_checker_catches_violations(checker, response, complaint):
    if complaint is None:
        checker.check(response)
    else:
        with pytest.raises(ContractError, match=complaint.replace("(", r"\(")):
            checker.check(response)


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
def test_every_emulated_operation_is_validated(start_sandbox, profile):
    """One pass over every operation, with its own checker: a success and an error each."""
    sandbox = start_sandbox(profile=profile)
    checker = ContractChecker(profile)
    source = site_clients(sandbox, "source", checker)
    destination = site_clients(sandbox, "destination", checker)
    day = {"from": "2025-03-05", "to": "2025-03-05"}
    with sandbox.admin() as admin:
        author = next(p for p in admin.people() if p["kind"] == "normal")["destination"]["account_id"]
    item = {"authorAccountId": author, "startDate": "2025-03-18", "timeSpentSeconds": 600, "description": "x"}
    tempo, jira = destination.tempo, destination.jira

    tempo.get("/4/worklogs", params={**day, "limit": 2}).raise_for_status()
    tempo.get("/4/worklogs", params={"limit": 0})
    created = tempo.post("/4/worklogs", json={**item, "issueId": 20060}).json()
    tempo.post("/4/worklogs", json={**item, "issueId": "20060"})
    tempo.post("/4/worklogs/search", json={"from": "2025-03-18", "to": "2025-03-18"}).raise_for_status()
    tempo.post("/4/worklogs/search", json={"from": 1})
    mapping = tempo.post("/4/worklogs/tempo-to-jira", json={"tempoWorklogIds": [created["tempoWorklogId"]]})
    tempo.post("/4/worklogs/tempo-to-jira", json={"tempoWorklogIds": []})
    jira_id = mapping.json()["results"][0]["jiraWorklogId"]
    tempo.post("/4/worklogs/jira-to-tempo", json={"jiraWorklogIds": [jira_id]}).raise_for_status()
    tempo.post("/4/worklogs/jira-to-tempo", json={})
    tempo.post("/4/worklogs/issue/20060/bulk", json=[item, item]).raise_for_status()
    tempo.post("/4/worklogs/issue/20060/bulk", json=[])
    tempo.get(f"/4/worklogs/{created['tempoWorklogId']}").raise_for_status()
    tempo.get("/4/worklogs/0")
    update = {key: item[key] for key in ("authorAccountId", "startDate", "timeSpentSeconds")}
    tempo.put(f"/4/worklogs/{created['tempoWorklogId']}", json=update).raise_for_status()
    tempo.put(f"/4/worklogs/{created['tempoWorklogId']}", json={})
    tempo.delete(f"/4/worklogs/{created['tempoWorklogId']}").raise_for_status()
    tempo.delete(f"/4/worklogs/{created['tempoWorklogId']}")
    tempo.get("/4/work-attributes").raise_for_status()
    tempo.get("/4/work-attributes", params={"limit": 6000})
    roles_listed = profile.permission_roles == "listed"
    roles = tempo.get("/4/permission-roles")
    assert roles.is_success == roles_listed
    tempo.get("/4/permission-roles", params={"offset": -1})

    jira.get("/rest/api/3/myself").raise_for_status()
    with httpx.Client(event_hooks={"response": [checker.check]}) as anonymous:
        anonymous.get(f"{sandbox.urls.destination.jira}/rest/api/3/myself")
    jira.get("/rest/api/3/mypermissions", params={"permissions": "WORK_ON_ISSUES"}).raise_for_status()
    jira.get("/rest/api/3/mypermissions")
    jira.get("/rest/api/3/user", params={"accountId": author}).raise_for_status()
    jira.get("/rest/api/3/user", params={"accountId": "gone"})
    jira.get("/rest/api/3/user/bulk", params={"accountId": author}).raise_for_status()
    jira.get("/rest/api/3/user/bulk")
    jira.get("/rest/api/3/user/search", params={"query": "a"}).raise_for_status()
    jira.get("/rest/api/3/user/search")
    jira.get("/rest/api/3/issue/ACME-1").raise_for_status()
    jira.get("/rest/api/3/issue/NOPE-1")
    jira.get("/rest/api/3/search/jql", params={"jql": "project = ACME", "fields": "*all"}).raise_for_status()
    jira.get("/rest/api/3/search/jql", params={"jql": ""})
    jira.post("/rest/api/3/search/jql", json={"jql": "key = ACME-1", "fields": ["*all"]}).raise_for_status()
    jira.post("/rest/api/3/search/jql", json={"jql": "summary = NOPE"})
    jira.get("/rest/api/3/issue/ACME-1/worklog").raise_for_status()
    jira.get("/rest/api/3/issue/NOPE-1/worklog")
    body = {"started": "2025-03-18T09:00:00.000+0000", "timeSpentSeconds": 60, "comment": ADF}
    added = jira.post("/rest/api/3/issue/ACME-1/worklog", json=body).json()
    jira.post("/rest/api/3/issue/ACME-1/worklog", json={**body, "started": "2025-03-18T09:00:00Z"})
    path = f"/rest/api/3/issue/ACME-1/worklog/{added['id']}"
    jira.get(path).raise_for_status()
    jira.get("/rest/api/3/issue/ACME-1/worklog/1")
    jira.put(f"{path}/properties/link", json={"a": 1}).raise_for_status()
    jira.put("/rest/api/3/issue/ACME-1/worklog/1/properties/link", json={"a": 1})
    jira.get(f"{path}/properties").raise_for_status()
    jira.get("/rest/api/3/issue/ACME-1/worklog/1/properties")
    jira.get(f"{path}/properties/link").raise_for_status()
    jira.get(f"{path}/properties/none")
    jira.put(path, json={"timeSpentSeconds": 120, "comment": ADF}, params={"expand": "properties"})
    jira.put(path, json={"started": "2025-03-18"})
    jira.post("/rest/api/3/worklog/list", json={"ids": [int(added["id"])]}).raise_for_status()
    jira.post("/rest/api/3/worklog/list", json={"ids": []})
    jira.delete(path, params={"adjustEstimate": "leave"}).raise_for_status()
    jira.delete(path)
    with sandbox.admin() as admin:
        admin.advance_clock(60)  # the change feeds leave out the last minute
    updated = jira.get("/rest/api/3/worklog/updated", params={"since": 0, "expand": "properties"})
    assert updated.json()["values"]
    jira.get("/rest/api/3/worklog/updated", params={"since": "now"})
    assert jira.get("/rest/api/3/worklog/deleted").json()["values"]
    jira.get("/rest/api/3/worklog/deleted", params={"since": "now"})
    source.tempo.get("/4/worklogs", params=day).raise_for_status()
    source.close()
    destination.close()

    documented = {
        (service, key) for service, document in checker.documents.items() for key in document["operations"]
    }
    succeeded = {(s, k) for (s, k, status) in checker.checked if 200 <= status < 300}
    failed = {(s, k) for (s, k, status) in checker.checked if status >= 400}
    refused = set() if roles_listed else {("tempo", "GET /4/permission-roles")}
    assert documented - succeeded == refused
    assert documented - failed == set()
