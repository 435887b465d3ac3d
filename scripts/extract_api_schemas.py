"""Regenerate the JSON Schema fragments the contract tests validate against.

The official Tempo v4 and Jira Cloud v3 OpenAPI documents are large and are not part of
this repository; this script takes from them the component schemas the sandbox emulates
(with everything they reference), turns OpenAPI 3.0 into JSON Schema 2020-12 and writes
``tests/contract/schemas/{tempo,jira}.json``. Tests read only those files.

Tempo's schemas leave objects open; the fragments close every object of a response schema
that lists its properties (``additionalProperties: false``) so that the emulator cannot
invent fields. Request schemas stay open, as documented: the services ignore unknown fields.

    uv run python scripts/extract_api_schemas.py ../shared/api
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

# The operations the sandbox emulates, by method and documented path.
TEMPO_OPERATIONS = (
    ("get", "/4/worklogs"), ("post", "/4/worklogs"), ("post", "/4/worklogs/search"),
    ("post", "/4/worklogs/tempo-to-jira"), ("post", "/4/worklogs/jira-to-tempo"),
    ("post", "/4/worklogs/issue/{issueId}/bulk"), ("get", "/4/worklogs/{id}"),
    ("put", "/4/worklogs/{id}"), ("delete", "/4/worklogs/{id}"), ("get", "/4/work-attributes"),
    ("get", "/4/permission-roles"),
)  # fmt: skip
JIRA_OPERATIONS = (
    ("get", "/rest/api/3/myself"), ("get", "/rest/api/3/mypermissions"),
    ("get", "/rest/api/3/user"), ("get", "/rest/api/3/user/bulk"),
    ("get", "/rest/api/3/user/search"), ("get", "/rest/api/3/issue/{issueIdOrKey}"),
    ("get", "/rest/api/3/search/jql"), ("post", "/rest/api/3/search/jql"),
    ("get", "/rest/api/3/issue/{issueIdOrKey}/worklog"),
    ("post", "/rest/api/3/issue/{issueIdOrKey}/worklog"),
    ("get", "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}"),
    ("put", "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}"),
    ("delete", "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}"),
    ("get", "/rest/api/3/worklog/updated"), ("get", "/rest/api/3/worklog/deleted"),
    ("post", "/rest/api/3/worklog/list"),
    ("get", "/rest/api/3/issue/{issueIdOrKey}/worklog/{worklogId}/properties"),
    ("get", "/rest/api/3/issue/{issueIdOrKey}/worklog/{worklogId}/properties/{propertyKey}"),
    ("put", "/rest/api/3/issue/{issueIdOrKey}/worklog/{worklogId}/properties/{propertyKey}"),
)  # fmt: skip
# Schemas needed beyond what the operations reference: error bodies the documents describe
# in prose, and the shapes of issue fields (IssueBean leaves `fields` open).
TEMPO_EXTRA = ("ErrorBean",)
JIRA_EXTRA = ("ErrorCollection", "ProjectDetails", "TimeTrackingDetails", "IssueTypeDetails")
_DROPPED = {"example", "examples", "xml", "externalDocs", "discriminator"}
OUT = Path(__file__).resolve().parent.parent / "tests" / "contract" / "schemas"


def convert(node: Any, *, close_objects: bool) -> Any:
    """OpenAPI 3.0 schema → JSON Schema 2020-12 (refs, nullable), recursively."""
    if isinstance(node, list):
        return [convert(item, close_objects=close_objects) for item in node]
    if not isinstance(node, dict):
        return node
    result = {
        key: convert(value, close_objects=close_objects)
        for key, value in node.items()
        if key not in _DROPPED and key != "nullable"
    }
    if "$ref" in result:
        result["$ref"] = result["$ref"].replace("#/components/schemas/", "#/$defs/")
    if node.get("nullable") and "type" in result:
        result["type"] = [result["type"], "null"]
    is_object = result.get("type") == "object" or "properties" in result
    if close_objects and is_object and "properties" in result and "additionalProperties" not in result:
        result["additionalProperties"] = False
    return result


def closure(schemas: dict[str, Any], roots: tuple[str, ...]) -> list[str]:
    """The named schemas and every schema they reference."""
    seen: list[str] = []
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.append(name)
        pending.extend(_refs(schemas[name]))
    return sorted(seen)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def operations(document: dict[str, Any], wanted: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Per operation: the request body schema and the JSON schema of each documented answer."""
    result = {}
    for method, path in wanted:
        operation = document["paths"][path][method]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        responses = {
            status: answer["content"]["application/json"].get("schema")
            for status, answer in operation["responses"].items()
            if "application/json" in answer.get("content", {})
        }
        result[f"{method.upper()} {path}"] = {"request": body.get("schema"), "responses": responses}
    return result


def fragment(
    document: dict[str, Any],
    wanted: tuple[tuple[str, str], ...],
    extra: tuple[str, ...],
    source: str,
    *,
    close_responses: bool,
) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    emulated = operations(document, wanted)
    roots = tuple(dict.fromkeys((*_refs(emulated), *extra)))
    # Everything a service answers with: the documented responses and the extra shapes.
    answered_roots = (*_refs([op["responses"] for op in emulated.values()]), *extra)
    answered = set(closure(schemas, tuple(dict.fromkeys(answered_roots))))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"Generated by scripts/extract_api_schemas.py from {source}; do not edit.",
        "operations": {
            key: {
                "request": convert(op["request"], close_objects=False),
                "responses": convert(op["responses"], close_objects=close_responses),
            }
            for key, op in emulated.items()
        },
        "$defs": {
            name: convert(schemas[name], close_objects=close_responses and name in answered)
            for name in closure(schemas, roots)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("api_dir", type=Path, help="folder with the two official documents")
    args = parser.parse_args()
    tempo = yaml.safe_load((args.api_dir / "tempo-openapi-v4.yaml").read_text())
    jira = json.loads((args.api_dir / "jira-cloud-platform-v3.json").read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    outputs = {
        "tempo.json": fragment(
            tempo, TEMPO_OPERATIONS, TEMPO_EXTRA, "tempo-openapi-v4.yaml", close_responses=True
        ),
        "jira.json": fragment(
            jira, JIRA_OPERATIONS, JIRA_EXTRA, "jira-cloud-platform-v3.json", close_responses=False
        ),
    }
    for name, content in outputs.items():
        (OUT / name).write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {OUT / name}: {len(content['$defs'])} schemas")


if __name__ == "__main__":
    main()
