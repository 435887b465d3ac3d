"""Many site pairs through the command line: a pairs file, each pair on a sandbox of its own.

``tempo-sync run`` runs every pair (or those ``--pair`` names) one after another and prints a table
per pair under its heading; ``status``, ``trace`` and the maintenance commands read the file of
the pair ``--pair`` names. Each pair has its own DuckDB file, and a pair never touches another's:
renaming a pair (same file) or adding one leaves every ledger as it was.

``main`` runs in this process, as in tests/pipeline/test_status_trace.py: each start of the installed
command would import Dagster again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from assets.pair import PAIR_TAG
from cli.main import main
from pipelines.definitions import build_definitions
from sandbox.config import CREDENTIALS, DataKnobs
from sandbox.server import SandboxServer
from tests.conftest import SandboxFactory
from tests.support.sync import UNPACED

DAY = date(2025, 3, 5)
RUN_DAY = ["run", "--from", DAY.isoformat(), "--to", DAY.isoformat()]
# The policy every pair reads, beside the pairs file: the product's pacing off, as in tests/support/sync.py.
POLICY = "policy.toml"


@dataclass
class PairSite:
    """One ``[[pairs]]`` table: a pair from a sandbox's source site to its destination site."""

    name: str
    sandbox: SandboxServer
    label: str  # names the sandbox's token variables, which stay when the pair is renamed
    duckdb: str  # relative to the pairs file
    start_date: str = "2025-01-01"
    extra: dict[str, str] = field(default_factory=dict)

    def table(self) -> str:
        env = self.sandbox.environment()
        values = {
            "name": self.name,
            "source_jira_url": env["SOURCE_JIRA_URL"],
            "source_jira_email": env["SOURCE_JIRA_EMAIL"],
            "source_tempo_url": env["SOURCE_TEMPO_URL"],
            "dest_jira_url": env["DEST_JIRA_URL"],
            "dest_jira_email": env["DEST_JIRA_EMAIL"],
            "dest_tempo_url": env["DEST_TEMPO_URL"],
            "duckdb": self.duckdb,
            "start_date": self.start_date,
            "config": POLICY,
            **{f"{key}_token_env": variable for key, variable in self.token_envs().items()},
            **self.extra,
        }
        return "[[pairs]]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())

    def token_envs(self) -> dict[str, str]:
        return {f"{prefix}_{service}": f"{self.label}_{prefix}_{service}_TOKEN".upper()
                for prefix in ("source", "dest") for service in ("jira", "tempo")}  # fmt: skip


@dataclass
class Pairs:
    """A pairs file in a temp dir and the environment that names it (set in this process)."""

    directory: Path
    monkeypatch: pytest.MonkeyPatch
    sites: list[PairSite] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.directory / "pairs.toml"

    def write(self, *sites: PairSite) -> None:
        """Write the pairs file and set each pair's token variables, as a deployment's environment
        holds them; the destination Tempo token only where the sandbox's destination has Tempo."""
        self.sites = list(sites)
        self.path.write_text("\n".join(site.table() for site in sites), encoding="utf-8")
        for site in sites:
            for key, variable in site.token_envs().items():
                prefix, service = key.split("_")
                credentials = CREDENTIALS["source" if prefix == "source" else "destination"]
                has_tempo = prefix == "source" or site.sandbox.config.destination_tempo
                if service == "tempo" and not has_tempo:
                    self.monkeypatch.delenv(variable, raising=False)
                else:
                    token = credentials.jira_token if service == "jira" else credentials.tempo_token
                    self.monkeypatch.setenv(variable, token)

    def file(self, site: PairSite) -> Path:
        return self.directory / site.duckdb

    def query(self, site: PairSite, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.file(site)), read_only=True) as connection:
            return connection.execute(sql, params or []).fetchall()

    def scalar(self, site: PairSite, sql: str, params: list[object] | None = None) -> Any:
        return self.query(site, sql, params)[0][0]

    def links(self, site: PairSite) -> list[tuple[Any, ...]]:
        """Every ledger row, every column, in a stable order."""
        return self.query(site, "select * from sync.worklog_links order by source_site, tempo_worklog_id")

    def digest(self, site: PairSite) -> str:
        return hashlib.sha256(self.file(site).read_bytes()).hexdigest()


@pytest.fixture
def pairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pairs:
    """A pairs file named by ``TEMPO_SYNC_PAIRS``, none of the single pair's variables, an
    ephemeral Dagster instance per command."""
    for name in ("TEMPO_SYNC_MODE", "TEMPO_SYNC_DUCKDB", "TEMPO_SYNC_CONFIG", "TEMPO_SYNC_START_DATE",
                 "DAGSTER_HOME"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "etc"
    directory.mkdir()
    (directory / POLICY).write_text(UNPACED, encoding="utf-8")
    monkeypatch.setenv("TEMPO_SYNC_PAIRS", str(directory / "pairs.toml"))
    return Pairs(directory, monkeypatch)


def _sandbox(start_sandbox: SandboxFactory, tmp_path: Path, label: str, **overrides: Any) -> SandboxServer:
    # A state directory of its own: sandboxes sharing one would be one pair of sites.
    return start_sandbox(state_dir=tmp_path / f"sandbox_{label}", **overrides)


Command = Callable[..., tuple[int, str, str]]


@pytest.fixture
def tempo_sync(capsys: pytest.CaptureFixture[str]) -> Command:
    """``tempo-sync ARGS`` in this process: its exit status, stdout and stderr."""

    def command(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return command


def _blocks(output: str) -> dict[str, str]:
    """Each pair's output by name, split at the headings."""
    parts = re.split(r"^== pair (\w+): .* ==$", output, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _totals(block: str) -> dict[str, int]:
    lines = block.strip().splitlines()
    header = re.split(r"\s{2,}", lines[0].strip())
    total = re.split(r"\s{2,}", next(line for line in lines if line.startswith("total")).strip())
    return {name: int(value) for name, value in zip(header[1:], total[1:], strict=False) if value.isdigit()}


@pytest.mark.slow
def test_each_pair_runs_and_is_read_on_its_own_and_renaming_or_adding_a_pair_leaves_every_ledger(
    pairs: Pairs, start_sandbox: SandboxFactory, tmp_path: Path, tempo_sync: Command
) -> None:
    # Fewer worklogs than the sandbox's 40 a day keep the six runs of this test short.
    alpha_sandbox = _sandbox(start_sandbox, tmp_path, "one", data=DataKnobs(worklogs_per_day=20))
    alpha = PairSite("alpha", alpha_sandbox, "one", "data/alpha.duckdb")
    # Another seed, other figures, and no Tempo on the destination: Jira worklogs.
    beta_sandbox = _sandbox(start_sandbox, tmp_path, "two", data=DataKnobs(seed=11, worklogs_per_day=14),
                            destination_tempo=False)  # fmt: skip
    beta = PairSite("beta", beta_sandbox, "two", "beta.duckdb", start_date="2025-03-01")
    pairs.write(alpha, beta)

    status, out, err = tempo_sync(*RUN_DAY, "--quiet")
    assert status == 0, err
    assert err == ""
    blocks = _blocks(out)
    assert list(blocks) == ["alpha", "beta"]  # the file's order
    assert out.startswith("== pair alpha: 127.0.0.1/source/jira -> 127.0.0.1/destination/jira ==\n")
    assert out.endswith("tempo-sync: all 2 pairs succeeded\n")
    for site in (alpha, beta):
        totals = _totals(blocks[site.name])
        assert totals["extracted"] == pairs.scalar(site, "select count(*) from raw.source_worklogs")
        assert totals["created"] == pairs.scalar(
            site, "select count(*) from sync.worklog_links where state = 'created'"
        )
        assert totals["already synced"] == 0
        run_id = pairs.scalar(site, "select run_id from lineage.runs")
        assert f"tempo-sync: run {run_id} succeeded" in blocks[site.name]
    assert _totals(blocks["alpha"])["created"] > 10
    assert _totals(blocks["alpha"])["extracted"] != _totals(blocks["beta"])["extracted"]
    # Each pair wrote where its settings say: beta's copies are Jira worklogs.
    assert pairs.query(alpha, "select distinct target from sync.worklog_links") == [("tempo",)]
    assert pairs.query(beta, "select distinct target from sync.worklog_links") == [("jira",)]
    assert pairs.scalar(alpha, "select job_name from lineage.runs") == "alpha_sync_worklogs"

    # --pair runs only the named pair: alpha's file is not even opened for writing.
    alpha_file = pairs.digest(alpha)
    status, out, err = tempo_sync(*RUN_DAY, "--pair", "beta", "--json")
    assert status == 0, err
    (document,) = json.loads(out)
    assert document["pair"] == "beta"
    assert document["duckdb"] == str(pairs.file(beta))
    assert document["totals"]["created"] == 0
    assert document["totals"]["already_synced"] == _totals(blocks["beta"])["created"]
    assert pairs.digest(alpha) == alpha_file
    assert pairs.scalar(beta, "select count(*) from lineage.runs") == 2

    # Each pair's dates are checked against its own partitions, before any pair runs.
    status, _, err = tempo_sync("run", "--from", "2025-02-27", "--to", "2025-02-28", "--quiet")
    assert status == 2
    assert "pair 'beta': the range 2025-02-27..2025-02-28 is not within its work dates 2025-03-01.." in err
    assert "alpha" not in err
    assert pairs.digest(alpha) == alpha_file
    status, _, err = tempo_sync(*RUN_DAY, "--pair", "gamma")
    assert status == 2
    assert "no pair is named 'gamma'; the pairs are 'alpha', 'beta'" in err

    # status: one pair as it always was, or every pair under its heading (a list in JSON).
    status, out, _ = tempo_sync("status", "--pair", "alpha")
    assert status == 0
    assert out.startswith(f"tempo-sync: status of {pairs.file(alpha)} (source site 127.0.0.1/source/jira)")
    assert "runs: the last 1 of 1" in out
    status, out, _ = tempo_sync("status")
    assert status == 0
    shown = _blocks(out)
    assert list(shown) == ["alpha", "beta"]
    assert "runs: the last 1 of 1" in shown["alpha"]
    assert "runs: the last 2 of 2" in shown["beta"]
    status, out, _ = tempo_sync("status", "--json")
    assert status == 0
    assert [(doc["pair"], doc["duckdb"], doc["runs"]["total"]) for doc in json.loads(out)] == [
        ("alpha", str(pairs.file(alpha)), 1),
        ("beta", str(pairs.file(beta)), 2),
    ]

    # trace reads one pair's file: a Tempo id is one source site's, so among several, --pair is needed.
    tempo_id = pairs.scalar(
        alpha, "select min(tempo_worklog_id) from sync.worklog_links where state = 'created'"
    )
    status, out, err = tempo_sync("trace", str(tempo_id), "--pair", "alpha")
    assert status == 0, err
    assert out.startswith(f"worklog {tempo_id} (source Tempo id)")
    status, out, err = tempo_sync("trace", str(tempo_id))
    assert (status, out) == (2, "")
    assert "`tempo-sync trace` needs --pair NAME when there are several pairs" in err
    assert "the pairs are 'alpha', 'beta'" in err
    status, _, err = tempo_sync("trace", str(tempo_id), "--pair", "gamma")
    assert status == 2
    assert "no pair is named 'gamma'" in err

    # The maintenance commands follow trace's rule; with --pair they change only that file.
    for command in (["retry"], ["purge-directory"], ["settle", str(tempo_id), "--resend"]):
        status, _, err = tempo_sync(*command)
        assert status == 2, command
        assert f"`tempo-sync {command[0]}` needs --pair NAME" in err
    status, out, err = tempo_sync("retry", "--pair", "beta")
    assert status == 0, err
    assert str(pairs.file(beta)) in out
    assert pairs.digest(alpha) == alpha_file

    ledgers = {site.duckdb: pairs.links(site) for site in (alpha, beta)}
    created = {
        site.duckdb: pairs.scalar(site, "select count(*) from sync.worklog_links where state = 'created'")
        for site in (alpha, beta)
    }

    # alpha becomes "agency" (same file, same token variables), and a third pair joins.
    renamed = PairSite("agency", alpha.sandbox, "one", alpha.duckdb)
    gamma_sandbox = _sandbox(start_sandbox, tmp_path, "three", data=DataKnobs(seed=13, worklogs_per_day=10))
    gamma = PairSite("gamma", gamma_sandbox, "three", "data/gamma.duckdb")
    pairs.write(renamed, beta, gamma)
    status, out, err = tempo_sync(*RUN_DAY, "--json")
    assert status == 0, err
    documents = {document["pair"]: document for document in json.loads(out)}
    assert list(documents) == ["agency", "beta", "gamma"]
    # The rerun creates nothing where everything was synced: the renamed pair kept its ledger.
    for name, site in (("agency", alpha), ("beta", beta)):
        assert documents[name]["totals"]["created"] == 0
        assert documents[name]["totals"]["already_synced"] == created[site.duckdb]
    assert documents["gamma"]["totals"]["created"] == pairs.scalar(
        gamma, "select count(*) from sync.worklog_links where state = 'created'"
    )
    assert documents["gamma"]["totals"]["created"] > 3
    for site in (renamed, beta):
        assert pairs.links(site) == ledgers[site.duckdb]  # every row, every column
    assert pairs.query(renamed, "select job_name from lineage.runs order by started_at") == [
        ("alpha_sync_worklogs",),
        ("agency_sync_worklogs",),
    ]
    # Nothing on the destinations but the first run's copies.
    for site in (alpha, beta):
        with site.sandbox.admin() as admin:
            assert len(admin.changed_worklogs("destination")) == created[site.duckdb]


def test_each_pair_has_its_own_assets_group_job_schedule_sensors_pool_and_resources(tmp_path: Path) -> None:
    tables = []
    environ = {"TEMPO_SYNC_PAIRS": str(tmp_path / "pairs.toml")}
    for name, host in (("alpha", "alpha-client"), ("beta", "beta-client")):
        variables = {key: f"{name}_{key}".upper() for key in ("source_jira", "source_tempo", "dest_jira")}
        tables.append(
            "[[pairs]]\n"
            f'name = "{name}"\nduckdb = "{name}.duckdb"\n'
            f'source_jira_url = "https://{host}.atlassian.net"\nsource_jira_email = "sync@{host}.example"\n'
            'dest_jira_url = "https://us.atlassian.net"\ndest_jira_email = "sync@us.example"\n'
            + "".join(f'{key}_token_env = "{variable}"\n' for key, variable in variables.items())
        )
        environ |= dict.fromkeys(variables.values(), "not-a-real-token")
    (tmp_path / "pairs.toml").write_text("\n".join(tables), encoding="utf-8")

    definitions = build_definitions(environ)
    graph = definitions.resolve_asset_graph()
    keys = list(graph.get_all_asset_keys())
    by_pair = {name: [key for key in keys if key.path[0] == name] for name in ("alpha", "beta")}
    assert sorted(map(len, by_pair.values())) == [len(keys) // 2] * 2  # every key under a pair
    assert {key.path[1] for key in by_pair["alpha"]} == {key.path[1] for key in by_pair["beta"]}
    assert "destination_worklogs" in {key.path[1] for key in by_pair["alpha"]}
    pools: dict[str, set[str | None]] = {}
    resources: dict[str, set[str]] = {}
    for name, pair_keys in by_pair.items():
        assets = [graph.get(key).assets_def for key in pair_keys]
        assert {graph.get(key).group_name for key in pair_keys} == {name}  # one group per pair
        pools[name] = {asset.op.pool for asset in assets}
        # Dagster's own io_manager (no asset passes a value through it) is the only shared key.
        resources[name] = set().union(*(asset.required_resource_keys for asset in assets)) - {"io_manager"}
    assert pools == {"alpha": {"tempo_sync_duckdb_alpha"}, "beta": {"tempo_sync_duckdb_beta"}}
    assert not resources["alpha"] & resources["beta"]
    assert all(key.startswith("alpha_") for key in resources["alpha"])
    assert all(key.startswith("beta_") for key in resources["beta"])
    assert resources["alpha"] | resources["beta"] == set(definitions.resources or {})

    for name in ("alpha", "beta"):
        job = definitions.resolve_job_def(f"{name}_sync_worklogs")
        assert job.tags[PAIR_TAG] == name
        assert {key.path[0] for key in job.asset_layer.executable_asset_keys} == {name}
        schedule = definitions.resolve_schedule_def(f"{name}_sync_worklogs_schedule")
        assert schedule.job_name == job.name
        late = definitions.resolve_sensor_def(f"{name}_late_worklogs")
        assert late.job_name == job.name
        crashed = definitions.resolve_sensor_def(f"{name}_crashed_runs")
        assert crashed.required_resource_keys == {f"{name}_warehouse"}
    names = [sensor.name for sensor in definitions.sensors or []]
    names += [schedule.name for schedule in definitions.schedules or []]
    assert all(name.startswith(("alpha_", "beta_")) for name in names), names
    assert not any(isinstance(job, dg.JobDefinition) and job.name == "sync_worklogs"
                   for job in definitions.jobs or [])  # fmt: skip
