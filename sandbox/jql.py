"""The part of JQL the sandbox understands, with Jira's own strictness.

Clauses on ``id``, ``key``/``issuekey``, ``project``, ``summary`` and the destination's
"Source issue" text field (``cf[10100]``), joined by AND, OR, NOT and parentheses, with
ORDER BY. Like Jira, a key or project that does not exist is an error for the whole
query, not an empty result (the error names every such value), and a text field only takes
``~`` and ``!~``. With ``missing_values="omitted"`` (a profile switch) such values match
nothing instead, and the issues that exist are found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sandbox.world import SOURCE_ISSUE_FIELD, SOURCE_ISSUE_FIELD_NAME, Issue, Project

Predicate = Callable[[Issue], bool]
_V = TypeVar("_V")
_TOKEN = re.compile(
    r"""\s*(?:(?P<punct>!=|!~|[()=~,])|"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)'|(?P<word>cf\[\d+\]|[\w\-.]+))"""
)
_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$", re.IGNORECASE)
_KEYWORDS = {"and", "or", "not", "in", "order", "by", "asc", "desc"}
_FIELD_ALIASES = {
    "id": "id",
    "key": "key",
    "issuekey": "key",
    "issue": "key",
    "project": "project",
    "summary": "summary",
    f"cf[{SOURCE_ISSUE_FIELD.removeprefix('customfield_')}]": "source",
    SOURCE_ISSUE_FIELD_NAME.lower(): "source",
}
_LIST_OPERATORS = ("=", "!=", "in", "not in")
_TEXT_OPERATORS = ("~", "!~")


class JqlError(ValueError):
    """A query Jira would refuse; the messages are Jira's."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class Token:
    kind: str  # punct | string | word
    text: str


@dataclass(frozen=True)
class Query:
    predicate: Predicate
    order: tuple[tuple[str, bool], ...]  # (field, descending)

    def run(self, issues: Sequence[Issue]) -> list[Issue]:
        found = [issue for issue in issues if self.predicate(issue)]
        found.sort(key=lambda issue: issue.id)
        for name, descending in reversed(self.order):
            found.sort(key=_ORDER_KEYS[name], reverse=descending)
        return found


def _key_order(issue: Issue) -> tuple[str, int]:
    project, _, number = issue.key.rpartition("-")
    return project, int(number)


_ORDER_KEYS: dict[str, Callable[[Issue], object]] = {
    "id": lambda issue: issue.id,
    "key": _key_order,
    "project": lambda issue: issue.project.key,
    "summary": lambda issue: issue.summary.lower(),
}


def parse(
    text: str,
    issues: Sequence[Issue],
    projects: Sequence[Project],
    *,
    has_source_field: bool,
    missing_values: str = "error",
) -> Query:
    """Compile a JQL query against one site's issues and projects."""
    parser = _Parser(
        _tokenize(text), issues, projects, has_source_field=has_source_field, missing_values=missing_values
    )
    return parser.query()


def _tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].isspace():
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise JqlError(
                f"Error in the JQL Query: The character '{text[position]}' is a reserved JQL character."
            )
        position = match.end()
        if match.group("punct"):
            tokens.append(Token("punct", match.group("punct")))
        elif match.group("dq") is not None or match.group("sq") is not None:
            raw = match.group("dq") if match.group("dq") is not None else match.group("sq")
            tokens.append(Token("string", re.sub(r"\\(.)", r"\1", raw)))
        else:
            tokens.append(Token("word", match.group("word")))
    return tokens


class _Parser:
    def __init__(
        self,
        tokens: list[Token],
        issues: Sequence[Issue],
        projects: Sequence[Project],
        *,
        has_source_field: bool,
        missing_values: str,
    ) -> None:
        self.tokens = tokens
        self.position = 0
        self.key_of_id = {issue.id: issue.key.upper() for issue in issues}
        self.keys = set(self.key_of_id.values())
        self.ids = set(self.key_of_id)
        self.projects = projects
        self.has_source_field = has_source_field
        self.missing_values = missing_values

    # ----- token helpers

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() in words:
            self.position += 1
            return True
        return False

    def punct(self, symbol: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == symbol:
            self.position += 1
            return True
        return False

    def expect_punct(self, symbol: str) -> None:
        if not self.punct(symbol):
            raise self.unexpected(f"'{symbol}'")

    def unexpected(self, wanted: str) -> JqlError:
        token = self.peek()
        got = "the end of the query" if token is None else f"'{token.text}'"
        return JqlError(f"Error in the JQL Query: Expecting {wanted} but got {got}.")

    # ----- grammar

    def query(self) -> Query:
        predicate = None
        token = self.peek()
        if token is not None and not (token.kind == "word" and token.text.lower() == "order"):
            predicate = self.or_expression()
        order = self.order_by()
        if self.peek() is not None:
            raise self.unexpected("'AND', 'OR' or 'ORDER BY'")
        if predicate is None:
            raise JqlError(
                "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
            )
        return Query(predicate, order)

    def or_expression(self) -> Predicate:
        parts = [self.and_expression()]
        while self.keyword("or"):
            parts.append(self.and_expression())
        return parts[0] if len(parts) == 1 else lambda issue: any(p(issue) for p in parts)

    def and_expression(self) -> Predicate:
        parts = [self.not_expression()]
        while self.keyword("and"):
            parts.append(self.not_expression())
        return parts[0] if len(parts) == 1 else lambda issue: all(p(issue) for p in parts)

    def not_expression(self) -> Predicate:
        if self.keyword("not"):
            inner = self.not_expression()
            return lambda issue: not inner(issue)
        if self.punct("("):
            inner = self.or_expression()
            self.expect_punct(")")
            return inner
        return self.clause()

    def clause(self) -> Predicate:
        token = self.peek()
        if token is None or token.kind == "punct":
            raise self.unexpected("a field name")
        self.position += 1
        field = _FIELD_ALIASES.get(token.text.lower())
        if field is None or (field == "source" and not self.has_source_field):
            raise JqlError(f"Field '{token.text}' does not exist or you do not have permission to view it.")
        operator = self.operator()
        values = self.operand(operator)
        return self.compile(token.text, field, operator, values)

    def operator(self) -> str:
        if self.punct("="):
            return "="
        if self.punct("!="):
            return "!="
        if self.punct("~"):
            return "~"
        if self.punct("!~"):
            return "!~"
        if self.keyword("in"):
            return "in"
        if self.keyword("not"):
            if self.keyword("in"):
                return "not in"
            raise self.unexpected("'IN' after 'NOT'")
        raise self.unexpected("an operator ('=', '!=', '~', '!~', 'IN', 'NOT IN')")

    def operand(self, operator: str) -> list[str]:
        if operator in ("in", "not in"):
            self.expect_punct("(")
            values = [self.value()]
            while self.punct(","):
                values.append(self.value())
            self.expect_punct(")")
            return values
        return [self.value()]

    def value(self) -> str:
        token = self.peek()
        if (
            token is None
            or token.kind == "punct"
            or (token.kind == "word" and token.text.lower() in _KEYWORDS)
        ):
            raise self.unexpected("a value")
        self.position += 1
        return token.text

    def order_by(self) -> tuple[tuple[str, bool], ...]:
        if not self.keyword("order"):
            return ()
        if not self.keyword("by"):
            raise self.unexpected("'BY'")
        order = []
        while True:
            token = self.peek()
            field = None if token is None else _FIELD_ALIASES.get(token.text.lower())
            if field is None or field == "source":
                raise self.unexpected("a field to order by (id, key, project, summary)")
            self.position += 1
            descending = self.keyword("desc")
            if not descending:
                self.keyword("asc")
            order.append((field, descending))
            if not self.punct(","):
                return tuple(order)

    # ----- semantics

    def compile(self, name: str, field: str, operator: str, values: list[str]) -> Predicate:
        text_field = field in ("summary", "source")
        allowed = _TEXT_OPERATORS if text_field else _LIST_OPERATORS
        if operator not in allowed:
            raise JqlError(f"The operator '{operator.upper()}' is not supported by the '{name}' field.")
        negate = operator in ("!=", "not in", "!~")
        if field == "id":
            wanted_ids = _every(values, lambda value: self.issue_id(name, value))
            match: Predicate = lambda issue: issue.id in wanted_ids  # noqa: E731
        elif field == "key":
            wanted_keys = _every(values, lambda value: self.issue_key(name, value))
            match = lambda issue: issue.key.upper() in wanted_keys  # noqa: E731
        elif field == "project":
            wanted_projects = _every(values, self.project_id)
            match = lambda issue: issue.project.id in wanted_projects  # noqa: E731
        else:
            words = _words(values[0])
            read = (
                (lambda issue: issue.summary)
                if field == "summary"
                else (lambda issue: issue.source_key or "")
            )
            match = lambda issue: _contains(_words(read(issue)), words)  # noqa: E731
        return (lambda issue: not match(issue)) if negate else match

    def issue_id(self, name: str, value: str) -> int | None:
        if not value.isdigit():
            raise JqlError(f"An issue with key '{value}' does not exist for field '{name}'.")
        if int(value) not in self.ids:
            return self.missing(f"An issue with key '{value}' does not exist for field '{name}'.")
        return int(value)

    def issue_key(self, name: str, value: str) -> str | None:
        if value.isdigit() and int(value) in self.key_of_id:  # Jira also takes ids for key fields
            return self.key_of_id[int(value)]
        if not _KEY.match(value):
            raise JqlError(f"The issue key '{value}' for field '{name}' is invalid.")
        if value.upper() not in self.keys:
            return self.missing(f"An issue with key '{value}' does not exist for field '{name}'.")
        return value.upper()

    def project_id(self, value: str) -> int | None:
        for project in self.projects:
            if (
                value.upper() == project.key
                or value == str(project.id)
                or value.lower() == project.name.lower()
            ):
                return project.id
        return self.missing(f"The value '{value}' does not exist for the field 'project'.")

    def missing(self, message: str) -> None:
        """A well-formed value naming nothing: an error, or (profile) a value that matches nothing."""
        if self.missing_values == "error":
            raise JqlError(message)


def _every(values: list[str], check: Callable[[str], _V | None]) -> set[_V]:
    """Check every value; like Jira, a refusal names each bad value, not only the first."""
    checked, messages = set(), []
    for value in values:
        try:
            found = check(value)
        except JqlError as error:
            messages.extend(error.messages)
        else:
            if found is not None:
                checked.add(found)
    if messages:
        raise JqlError(*messages)
    return checked


def _words(text: str) -> list[str]:
    return re.findall(r"[0-9a-z]+", text.lower())


def _contains(haystack: list[str], needle: list[str]) -> bool:
    if not needle:
        return False
    width = len(needle)
    return any(haystack[start : start + width] == needle for start in range(len(haystack) - width + 1))
