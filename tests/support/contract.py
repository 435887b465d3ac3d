"""Every exchange with the sandbox, checked against the official API documents.

Test clients call ``ContractChecker.check`` on each response (an httpx event hook), so any
test that talks to the sandbox also checks its answers: the body of every documented status
against the schema the official document gives for it, error bodies against the service's
error schema, Tempo's 401/403 as HTML, and, when the sandbox accepted a request, the request
body the test sent against the documented request schema. The schemas are fragments taken
from the documents by ``scripts/extract_api_schemas.py``.

A sandbox profile (``sandbox.config.Profile``) leaves the schemas in two places only, each a
reading the documents themselves give room for, and the checker for that profile allows exactly
those: Tempo's error ``errors`` as one object (the document's prose, against its ``ErrorBean``),
and a worklog's absent ``description`` as ``null`` (integrators' schemas allow it; the document's
types it as a string). Every other switch stays inside the schemas as they are.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker

from sandbox.config import Profile

SCHEMAS = Path(__file__).resolve().parent.parent / "contract" / "schemas"
_ERROR_SCHEMA = {"tempo": "ErrorBean", "jira": "ErrorCollection"}
# Issue fields are open in IssueBean; the ones the sandbox serves have schemas of their own.
_ISSUE_FIELDS = {
    "project": "ProjectDetails",
    "timetracking": "TimeTrackingDetails",
    "issuetype": "IssueTypeDetails",
}
_SERVICE_PATH = re.compile(r"^/(?P<site>source|destination)/(?P<service>jira|tempo)(?P<rest>/.*)$")


class ContractError(AssertionError):
    pass


class ContractChecker:
    def __init__(self, profile: Profile | None = None) -> None:
        self.profile = profile or Profile()
        self.documents = {
            service: json.loads((SCHEMAS / f"{service}.json").read_text()) for service in ("tempo", "jira")
        }
        _allow_profile(self.documents["tempo"]["$defs"], self.profile)
        self.operations = [
            (service, key, _template_regex(key))
            for service, document in self.documents.items()
            for key in document["operations"]
        ]
        self.checked: Counter[tuple[str, str, int]] = Counter()
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}
        self._variants: dict[Profile, ContractChecker] = {self.profile: self}

    def under(self, profile: Profile) -> ContractChecker:
        """The checker for a sandbox serving this profile (this one, if it is the same)."""
        if profile not in self._variants:
            self._variants[profile] = ContractChecker(profile)
        return self._variants[profile]

    def operation(self, service: str, method: str, path: str) -> str | None:
        for candidate_service, key, pattern in self.operations:
            if candidate_service == service and pattern.match(f"{method} {path}"):
                return key
        return None

    def check(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        match = _SERVICE_PATH.match(request.url.path)
        if match is None:
            return
        service, path = match["service"], match["rest"]
        key = self.operation(service, request.method, path)
        status = response.status_code
        if key is None:
            if status not in (401, 404, 405):
                raise ContractError(
                    f"{request.method} {path} is not an emulated operation but answered {status}"
                )
            if not (service == "tempo" and status == 401):
                self._validate(service, {"$ref": f"#/$defs/{_ERROR_SCHEMA[service]}"}, response, "error")
            return
        self.checked[(service, key, status)] += 1
        self._check_exchange(service, key, response)

    def _check_exchange(self, service: str, key: str, response: httpx.Response) -> None:
        documented = self.documents[service]["operations"][key]
        status, content_type = response.status_code, response.headers.get("content-type", "")
        if service == "tempo" and status in (401, 403):
            if not content_type.startswith("text/html"):
                raise ContractError(f"Tempo answers {status} as text/html, not {content_type}")
            return
        if status >= 500 and content_type.startswith("text/html"):
            return  # a gateway page from an injected fault
        if status == 204:
            if response.content:
                raise ContractError(f"{key} answered 204 with a body")
            return
        schema = documented["responses"].get(str(status))
        if schema is None and status >= 400:
            schema = {"$ref": f"#/$defs/{_ERROR_SCHEMA[service]}"}
        if schema is None:
            raise ContractError(f"{key} answered {status}, which the official document does not list")
        self._validate(service, schema, response, f"{key} {status}")
        request = response.request
        if 200 <= status < 300 and documented["request"] and request.content:
            self._validate_json(service, documented["request"], json.loads(request.content), f"{key} request")
        if service == "jira" and status == 200 and key.endswith("{issueIdOrKey}"):
            self._check_issue_fields(response.json())
        if service == "jira" and status == 200 and "search/jql" in key:
            for issue in response.json()["issues"]:
                self._check_issue_fields(issue)

    def _check_issue_fields(self, issue: dict[str, Any]) -> None:
        for name, schema in _ISSUE_FIELDS.items():
            value = issue.get("fields", {}).get(name)
            if value is not None:
                self._validate_json("jira", {"$ref": f"#/$defs/{schema}"}, value, f"issue field {name}")

    def _validate(self, service: str, schema: dict[str, Any], response: httpx.Response, what: str) -> None:
        if schema == {} and not response.content:
            return
        if not response.headers.get("content-type", "").startswith("application/json"):
            raise ContractError(
                f"{what}: expected JSON, got {response.headers.get('content-type')}: {response.text[:200]}"
            )
        self._validate_json(service, schema, response.json(), what)

    def _validate_json(self, service: str, schema: dict[str, Any], value: object, what: str) -> None:
        cache_key = (service, json.dumps(schema, sort_keys=True))
        validator = self._validators.get(cache_key)
        if validator is None:
            root = {"$defs": self.documents[service]["$defs"], **schema}
            # Jira's timestamps (+0000) are not RFC 3339, so formats are only checked for Tempo.
            checker = FormatChecker() if service == "tempo" else None
            validator = self._validators[cache_key] = Draft202012Validator(root, format_checker=checker)
        errors = sorted(validator.iter_errors(value), key=str)
        if errors:
            details = "; ".join(
                f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:5]
            )
            raise ContractError(f"{what} does not match the official schema: {details}")


def _allow_profile(tempo: dict[str, Any], profile: Profile) -> None:
    """Widen Tempo's schema fragments (freshly read, so not shared) by the profile's two readings
    outside them (module docstring)."""
    if profile.tempo_error_shape == "object":
        errors = tempo["ErrorBean"]["properties"]["errors"]
        tempo["ErrorBean"]["properties"]["errors"] = {"anyOf": [errors, {"$ref": "#/$defs/Message"}]}
    if profile.absent_description == "null":
        tempo["Worklog"]["properties"]["description"]["type"] = ["string", "null"]


def _template_regex(key: str) -> re.Pattern[str]:
    method, _, path = key.partition(" ")
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
    return re.compile(f"^{method} {pattern}$")
