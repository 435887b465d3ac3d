"""The JQL subset and Jira's strictness about it."""

from __future__ import annotations

import pytest

from sandbox.config import DataKnobs
from sandbox.jql import JqlError, parse
from sandbox.world import World


@pytest.fixture(scope="module")
def world() -> World:
    return World(DataKnobs())


def keys(world: World, jql: str, site: str = "destination") -> list[str]:
    issues = world.issues(site)
    query = parse(jql, issues, world.projects[site], has_source_field=site == "destination")
    return [issue.key for issue in query.run(issues)]


def test_key_id_and_project_clauses(world: World):
    assert sorted(keys(world, "key in (ACME-1, acme-2)")) == ["ACME-1", "ACME-2"]
    acme_1 = world.issue_by_key("destination", "ACME-1")
    assert keys(world, f"id = {acme_1.id}") == ["ACME-1"]
    assert keys(world, f"issuekey in ({acme_1.id})") == ["ACME-1"]
    project = keys(world, "project = ACME order by key asc")
    assert project[:2] == ["ACME-1", "ACME-2"]
    assert all(key.startswith("ACME-") for key in project)
    assert keys(world, "project = 'Acme Platform' AND key = ACME-1") == ["ACME-1"]


def test_boolean_logic_and_order(world: World):
    assert keys(world, "key = ACME-1 OR key = OPS-1 ORDER BY key DESC") == ["OPS-1", "ACME-1"]
    assert keys(world, "project = ACME AND NOT key in (ACME-1)")[0] != "ACME-1"
    assert keys(world, "(key = ACME-1 OR key = OPS-1) AND project = OPS") == ["OPS-1"]


def test_source_issue_field_exists_only_on_the_destination(world: World):
    assert keys(world, 'cf[10100] ~ "CLI-1"') == ["CLIENT-1"]
    assert keys(world, '"Source issue" ~ "CLI-1"') == ["CLIENT-1"]
    with pytest.raises(JqlError, match="does not exist"):
        keys(world, 'cf[10100] ~ "CLI-1"', site="source")


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("", "Unbounded JQL queries are not allowed"),
        ("order by key", "Unbounded JQL queries are not allowed"),
        ("key in (ACME-1", "Expecting ')'"),
        ("key = ACME-9999", "An issue with key 'ACME-9999' does not exist for field 'key'."),
        ("key in (ACME-1, NOPE-1)", "An issue with key 'NOPE-1' does not exist"),
        ("key = not-a-key", "is invalid"),
        ("project = CLI", "The value 'CLI' does not exist for the field 'project'."),
        ("summary = billing", "The operator '=' is not supported by the 'summary' field."),
        ("cf[10100] = 'ACME-1'", "The operator '=' is not supported"),
        ("assignee = currentUser()", "Field 'assignee' does not exist"),
        ("key ACME-1", "Expecting an operator"),
        ("key = ACME-1 key = ACME-2", "Expecting 'AND', 'OR' or 'ORDER BY'"),
        ("key = ACME-1 & x", "reserved JQL character"),
    ],
)
def test_errors_are_jiras(world: World, jql: str, message: str):
    with pytest.raises(JqlError, match=message.replace("(", r"\(").replace(")", r"\)")):
        keys(world, jql)


def test_missing_source_keys_fail_the_whole_query_on_the_destination(world: World):
    missing = next(i for i in world.issues("source") if i.kind == "missing_on_destination")
    with pytest.raises(JqlError, match=missing.key):
        keys(world, f"key in (ACME-1, {missing.key})")


def test_every_missing_key_is_named_in_one_refusal(destination):
    answer = destination.jira.post(
        "/rest/api/3/search/jql", json={"jql": "key in (ACME-1, NOPE-1, ACME-2, GONE-7)", "fields": ["key"]}
    )
    assert answer.status_code == 400
    assert answer.json()["errorMessages"] == [
        "An issue with key 'NOPE-1' does not exist for field 'key'.",
        "An issue with key 'GONE-7' does not exist for field 'key'.",
    ]
