"""The pairs file (``TEMPO_SYNC_PAIRS``): many site pairs, every problem of every pair named at once,
tokens only ever named (never written, never echoed), paths relative to the file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from pipelines.definitions import build_definitions
from resources.pairs import load_pairs
from resources.policy import PolicyError
from resources.settings import DEFAULT_TEMPO_URL, DEFAULT_TOKEN_ENVS, Mode, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "pairs.example.toml"
# Values no message may ever show: each looks like what it stands for.
SECRETS = {
    "ACME_JIRA_TOKEN": "ATATT3xFfGF0acmeJiraSecret-0001",
    "ACME_TEMPO_TOKEN": "acmeTempoSecret0002",
    "AGENCY_JIRA_TOKEN": "ATATT3xFfGF0agencyJiraSecret-0003",
    "AGENCY_TEMPO_TOKEN": "agencyTempoSecret0004",
    "GLOBEX_JIRA_TOKEN": "ATATT3xFfGF0globexJiraSecret-0005",
    "GLOBEX_TEMPO_TOKEN": "globexTempoSecret0006",
}


def _pair(name: str, source: str = "a", destination: str = "b", **overrides: str | None) -> dict[str, str]:
    """A valid ``[[pairs]]`` table from site ``source`` to ``destination``; ``None`` drops a key."""
    table = {
        "name": name,
        "source_jira_url": f"https://{source}.atlassian.net",
        "source_jira_email": f"sync@{source}.example.com",
        "dest_jira_url": f"https://{destination}.atlassian.net",
        "dest_jira_email": f"sync@{destination}.example.com",
        "duckdb": f"data/{name}.duckdb",
        "source_jira_token_env": f"{source.upper()}_JIRA_TOKEN",
        "source_tempo_token_env": f"{source.upper()}_TEMPO_TOKEN",
        "dest_jira_token_env": f"{destination.upper()}_JIRA_TOKEN",
        "dest_tempo_token_env": f"{destination.upper()}_TEMPO_TOKEN",
    }
    table.update(overrides)  # type: ignore[arg-type]
    return {key: value for key, value in table.items() if value is not None}


def _write(path: Path, *tables: dict[str, str]) -> Path:
    # JSON strings are TOML basic strings for everything these tests write.
    text = "\n".join(
        "[[pairs]]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items())
        for table in tables
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _tokens(*sites: str) -> dict[str, str]:
    return {f"{site.upper()}_{service}_TOKEN": f"{site}-{service.lower()}-secret-value"
            for site in sites for service in ("JIRA", "TEMPO")}  # fmt: skip


def _load(path: Path, **environ: str) -> list[Settings]:
    return load_pairs({"TEMPO_SYNC_PAIRS": str(path), **environ})


def _problems(path: Path, **environ: str) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        _load(path, **environ)
    return raised.value.problems


def test_without_a_pairs_file_the_pair_of_the_environment_variables_is_named_default() -> None:
    (pair,) = load_pairs({})
    assert pair.name == "default"
    assert pair.mode is Mode.SANDBOX
    assert dict(pair.token_envs) == DEFAULT_TOKEN_ENVS
    assert load_pairs({"TEMPO_SYNC_PAIRS": "  "})[0].name == "default"  # blank is unset


def test_the_example_loads_in_its_order_with_its_paths_beside_it_once_its_token_variables_are_set() -> None:
    pairs = _load(EXAMPLE, **SECRETS)
    assert [pair.name for pair in pairs] == ["acme_to_agency", "agency_to_acme", "globex_to_agency"]
    acme, back, globex = pairs
    assert all(pair.mode is Mode.LIVE for pair in pairs)
    # Relative to the example's directory, the repository root, wherever pytest started.
    assert acme.duckdb_path == ROOT / "data" / "acme_to_agency.duckdb"
    assert acme.config_path == ROOT / "tempo-sync.example.toml"
    assert globex.config_path is None
    # Both directions between the same two sites, and a third client to the agency.
    assert (acme.source.host, acme.destination.host) == ("acme.atlassian.net", "agency.atlassian.net")
    assert (back.source.host, back.destination.host) == ("agency.atlassian.net", "acme.atlassian.net")
    assert globex.destination.host == "agency.atlassian.net"
    assert acme.source.tempo_url == "https://api.eu.tempo.io"
    assert globex.source.tempo_url == DEFAULT_TEMPO_URL  # left out: the default
    assert back.start_date == date(2025, 3, 1)
    assert globex.start_date == date(2025, 1, 1)
    # The tokens come from the variables the file names; the settings keep the names for Dagster.
    assert acme.source.jira_token == SECRETS["ACME_JIRA_TOKEN"]
    assert back.destination.tempo_token == SECRETS["ACME_TEMPO_TOKEN"]
    assert dict(globex.token_envs) == {
        "source_jira": "GLOBEX_JIRA_TOKEN",
        "source_tempo": "GLOBEX_TEMPO_TOKEN",
        "destination_jira": "AGENCY_JIRA_TOKEN",
        "destination_tempo": "AGENCY_TEMPO_TOKEN",
    }
    assert not any(secret in repr(pairs) for secret in SECRETS.values())


def test_the_example_without_its_tokens_names_every_unset_variable_of_every_pair() -> None:
    problems = _problems(EXAMPLE)
    # Three required variables per pair (the destination's Tempo token is optional).
    assert len(problems) == 9
    first = problems[0]
    assert "pair 'acme_to_agency': source_jira_token_env names ACME_JIRA_TOKEN, which is not set;" in first
    assert "export the token as ACME_JIRA_TOKEN" in first
    assert sum("globex_to_agency" in problem for problem in problems) == 3


def test_every_problem_of_every_pair_is_named_at_once(tmp_path: Path) -> None:
    pasted = "ATATT3xFfGF0pastedIntoTheFile-0009"
    path = _write(
        tmp_path / "pairs.toml",
        _pair("Bad Name!", source_jira_email=None, colour="blue", source_jira_token=pasted,
              source_jira_url="acme.atlassian.net", dest_jira_url="http://b.atlassian.net",
              dest_tempo_url="https://user:pw@api.tempo.io", duckdb="data/bad.duckdb"),
        _pair("twin", source="c", source_tempo_token_env="NOT_EXPORTED"),
        _pair("twin", source="d", duckdb="data/twin2.duckdb"),
        _pair("shares_file", source="e", duckdb="data/twin.duckdb"),
        _pair("same_way", source="c"),
        _pair("loop", source="f", destination="f"),
        _pair("bad_env", source="g", dest_jira_token_env="B-JIRA"),
        {"name": "bare"},
    )  # fmt: skip
    environ = _tokens("a", "b", "c", "d", "e", "f", "g")
    problems = _problems(path, TEMPO_SYNC_MODE="sandbox", **environ)
    expected = [
        "TEMPO_SYNC_MODE is 'sandbox' while TEMPO_SYNC_PAIRS names a pairs file",
        "pair 'Bad Name!': unknown key 'colour'",
        "pair 'Bad Name!': unknown key 'source_jira_token' (tokens go in environment variables; name them"
        " with *_token_env)",
        "pair 'Bad Name!': source_jira_email is missing",
        "pair 'Bad Name!': name 'Bad Name!' is not a slug",
        "pair 'Bad Name!': source_jira_url is 'acme.atlassian.net', not a URL",
        "pair 'Bad Name!': dest_jira_url uses plain http to b.atlassian.net; use https",
        "pair 'Bad Name!': dest_tempo_url must be a plain base URL without credentials",
        "pair 'twin': source_tempo_token_env names NOT_EXPORTED, which is not set",
        "pair 'bad_env': dest_jira_token_env is 'B-JIRA', not an environment variable's name",
        "pair 'bare': source_jira_url is missing",
        "pair 'bare': source_jira_email is missing",
        "pair 'bare': dest_jira_url is missing",
        "pair 'bare': dest_jira_email is missing",
        "pair 'bare': duckdb is missing",
        "pair 'bare': source_jira_token_env is missing",
        "pair 'bare': source_tempo_token_env is missing",
        "pair 'bare': dest_jira_token_env is missing",
        "2 pairs are named 'twin'; give each pair its own name",
        "pairs 'twin', 'shares_file' share the DuckDB file",
        "pairs 'twin', 'same_way' all copy https://c.atlassian.net to https://b.atlassian.net",
        "pair 'loop' copies https://f.atlassian.net to itself; fix dest_jira_url",
    ]
    for fragment in expected:
        assert any(fragment in problem for problem in problems), fragment
    # Each problem once: a missing URL is named as a missing key only.
    assert len(problems) == len(expected), "\n".join(problems)
    message = str(SettingsError(problems))
    assert pasted not in message
    assert not any(value in message for value in environ.values())


def test_a_file_that_is_not_there_not_toml_or_holds_more_than_pairs_is_refused(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path / "nope.toml")
    assert f"TEMPO_SYNC_PAIRS names {tmp_path / 'nope.toml'}, which is not a file" in problem
    broken = tmp_path / "broken.toml"
    broken.write_text("[[pairs]\nname = 'x'\n", encoding="utf-8")
    (problem,) = _problems(broken)
    assert "is not valid TOML" in problem
    extra = _write(tmp_path / "extra.toml", _pair("one"))
    extra.write_text('mode = "live"\n' + extra.read_text(encoding="utf-8"), encoding="utf-8")
    (problem,) = _problems(extra, **_tokens("a", "b"))
    assert "unknown top-level key 'mode'; only [[pairs]] tables belong here" in problem
    table = tmp_path / "table.toml"
    table.write_text('[pairs]\nname = "one"\n', encoding="utf-8")
    (problem,) = _problems(table)
    assert "declares no pair" in problem


def test_duckdb_is_required_a_file_and_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "data" / "folder.duckdb").mkdir(parents=True)
    path = _write(tmp_path / "pairs.toml", _pair("one", duckdb="data/folder.duckdb"))
    (problem,) = _problems(path, **_tokens("a", "b"))
    assert f"duckdb names the directory {tmp_path / 'data' / 'folder.duckdb'}; give a file" in problem


@pytest.mark.parametrize(
    ("dest_tempo_token_env", "environ"),
    [
        (None, {}),  # the key left out
        ("", {}),  # the key empty
        ("B_TEMPO_TOKEN", {}),  # the variable unset
        ("B_TEMPO_TOKEN", {"B_TEMPO_TOKEN": ""}),  # the variable empty
        ("B_TEMPO_TOKEN", {"B_TEMPO_TOKEN": "  "}),  # the variable blank
    ],
    ids=["key-left-out", "key-empty", "variable-unset", "variable-empty", "variable-blank"],
)
def test_without_a_destination_tempo_token_the_copies_are_jira_worklogs(
    tmp_path: Path, dest_tempo_token_env: str | None, environ: dict[str, str]
) -> None:
    path = _write(tmp_path / "pairs.toml", _pair("one", dest_tempo_token_env=dest_tempo_token_env))
    tokens = {key: value for key, value in _tokens("a", "b").items() if key != "B_TEMPO_TOKEN"}
    (pair,) = _load(path, **tokens, **environ)
    assert not pair.destination.has_tempo
    assert pair.destination.tempo_token == ""
    assert pair.destination.jira_token == tokens["B_JIRA_TOKEN"]


def test_a_destination_tempo_token_when_its_variable_is_set(tmp_path: Path) -> None:
    (pair,) = _load(_write(tmp_path / "pairs.toml", _pair("one")), **_tokens("a", "b"))
    assert pair.destination.has_tempo
    assert pair.token_envs["destination_tempo"] == "B_TEMPO_TOKEN"


def test_relative_paths_are_relative_to_the_pairs_file_wherever_the_process_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "etc" / "tempo-sync"
    conf.mkdir(parents=True)
    (conf / "one.policy.toml").write_text("", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    absolute = tmp_path / "var" / "two.duckdb"
    path = _write(
        conf / "pairs.toml",
        _pair("one", config="one.policy.toml"),
        _pair("two", source="c", duckdb=str(absolute)),
        _pair("three", source="d", config="../missing.toml"),
    )
    with pytest.raises(SettingsError) as raised:
        _load(path, **_tokens("a", "b", "c", "d"))
    (problem,) = raised.value.problems
    assert f"pair 'three': config names {conf / '..' / 'missing.toml'}, which is not a file" in problem

    path = _write(conf / "pairs.toml", _pair("one", config="one.policy.toml"), _pair("two", source="c",
                  duckdb=str(absolute)))  # fmt: skip
    one, two = _load(Path("..") / "etc" / "tempo-sync" / "pairs.toml", **_tokens("a", "b", "c"))
    assert one.duckdb_path.resolve() == conf / "data" / "one.duckdb"
    assert one.config_path is not None
    assert one.config_path.resolve() == conf / "one.policy.toml"
    assert two.duckdb_path == absolute
    assert not (conf / "data").exists()  # loading creates nothing


def test_no_token_value_shows_in_any_message_or_repr(tmp_path: Path) -> None:
    tokens = _tokens("a", "b", "c")
    good = _write(tmp_path / "good.toml", _pair("one"), _pair("two", source="c"))
    pairs = _load(good, **tokens)
    shown = repr(pairs) + str(pairs) + "".join(repr(pair.source) + repr(pair.destination) for pair in pairs)
    assert "secret" not in shown
    assert "A_JIRA_TOKEN" in shown  # the names are shown, which is what the settings should say
    # Every kind of problem at once, with every token set: the values stay out of the message.
    bad = _write(tmp_path / "bad.toml", _pair("one", source_jira_url="ftp://a"), _pair("one", source="c"),
                 _pair("Two", source="c", dest_jira_token_env="UNSET_TOKEN"))  # fmt: skip
    with pytest.raises(SettingsError) as raised:
        _load(bad, TEMPO_SYNC_MODE="sandbox", **tokens)
    assert len(raised.value.problems) >= 5
    assert "secret" not in str(raised.value) + repr(raised.value)


@pytest.mark.parametrize(
    "pasted",
    ["ATATT3xFfGF0Qz9Qz9Qz9-atlassian=A1B2C3D4", "kq3V9sP0LmX7rT2wYb8NcD4eTempoLike"],
    ids=["atlassian-api-token", "tempo-token"],
)
def test_a_token_pasted_where_its_variables_name_belongs_is_not_echoed(tmp_path: Path, pasted: str) -> None:
    path = _write(tmp_path / "pairs.toml", _pair("one", source_tempo_token_env=pasted))
    problems = _problems(path, **_tokens("a", "b"))
    assert any("source_tempo_token_env" in problem for problem in problems)
    assert pasted not in "\n".join(problems)


@pytest.mark.parametrize("text", ["", "# every pair commented out\n", 'pairs = ["one"]\n'],
                         ids=["empty", "comments-only", "not-tables"])  # fmt: skip
def test_a_pairs_file_without_a_pair_table_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "pairs.toml"
    path.write_text(text, encoding="utf-8")
    assert "declares no pair" in "\n".join(_problems(path))


def test_a_start_date_written_as_a_toml_date_is_taken(tmp_path: Path) -> None:
    path = _write(tmp_path / "pairs.toml", _pair("one"))
    path.write_text(path.read_text(encoding="utf-8") + "start_date = 2025-03-01\n", encoding="utf-8")
    (pair,) = _load(path, **_tokens("a", "b"))
    assert pair.start_date == date(2025, 3, 1)


def test_the_single_pair_variables_beside_a_pairs_file_are_refused_by_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "pairs.toml", _pair("one"))
    problems = _problems(path, TEMPO_SYNC_DUCKDB="data/x.duckdb", SOURCE_JIRA_URL="https://x.atlassian.net",
                         SOURCE_JIRA_TOKEN="still-fine", **_tokens("a", "b"))  # fmt: skip
    (problem,) = problems
    assert problem.startswith(
        "SOURCE_JIRA_URL, TEMPO_SYNC_DUCKDB set while TEMPO_SYNC_PAIRS names a pairs file"
    )
    assert "still-fine" not in problem  # a token variable may keep its name: *_token_env names it


def test_pairs_without_their_duckdb_are_named_once_each_not_as_sharing_a_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "pairs.toml", _pair("one", duckdb=None), _pair("two", source="c", duckdb=None))
    problems = _problems(path, **_tokens("a", "b", "c"))
    assert problems == ["pair 'one': duckdb is missing", "pair 'two': duckdb is missing"]


def test_the_policy_files_of_every_pair_are_checked_at_once(tmp_path: Path) -> None:
    (tmp_path / "one.toml").write_text("[issues]\nstrategy = 'guess'\n", encoding="utf-8")
    (tmp_path / "two.toml").write_text("[http]\nmax_retries = -1\n", encoding="utf-8")
    path = _write(tmp_path / "pairs.toml", _pair("one", config="one.toml"),
                  _pair("two", source="c", config="two.toml"))  # fmt: skip
    with pytest.raises(PolicyError) as raised:
        build_definitions({"TEMPO_SYNC_PAIRS": str(path), **_tokens("a", "b", "c")})
    lines = str(raised.value).splitlines()
    assert lines[0] == f"pair 'one': the policy file {tmp_path / 'one.toml'} is invalid:"
    assert any(
        line.startswith(f"pair 'two': the policy file {tmp_path / 'two.toml'} is invalid:") for line in lines
    )
