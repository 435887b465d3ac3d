"""The deployment files (Dockerfile, .dockerignore, deploy/helm/values.yaml, docs/deploy.md), checked
statically: nothing here builds an image or renders the chart (docs/deploy.md, "What was verified
here and what was not"). The chart's key shapes below are those read from Dagster's Helm chart
schema models (helm/dagster/schema/schema/charts/... in dagster-io/dagster, the 1.13 line); a key
outside them, or a required one missing, fails here before `helm install` would."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
VALUES = ROOT / "deploy" / "helm" / "values.yaml"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
POSTGRES_INSTANCE = ROOT / "dagster_home" / "postgres" / "dagster.yaml"
PAIRS_EXAMPLE = ROOT / "pairs.example.toml"
DEPLOYMENT_FILES = (DOCKERFILE, DOCKERIGNORE, VALUES, DEPLOY_DOC)

# The keys each part of the chart's values may hold, as the chart's pydantic models define them
# (models with extra="forbid" reject any other key; the others are listed whole all the same, so
# that a typo fails here).
TOP_LEVEL = {
    "dagsterWebserver", "dagster-user-deployments", "postgresql", "generatePostgresqlPasswordSecret",
    "generateCeleryConfigSecret", "rabbitmq", "redis", "flower", "ingress", "imagePullSecrets",
    "computeLogManager", "scheduler", "runLauncher", "pythonLogs", "dagsterDaemon", "busybox", "migrate",
    "telemetry", "serviceAccount", "global", "retention", "concurrency", "additionalInstanceConfig",
}  # fmt: skip
GLOBAL = {"postgresqlSecretName", "dagsterHome", "serviceAccountName", "celeryConfigSecretName"}
POSTGRESQL = {
    "image", "enabled", "postgresqlHost", "postgresqlUsername", "postgresqlPassword", "postgresqlDatabase",
    "postgresqlParams", "postgresqlScheme", "service", "pool",
}  # fmt: skip
WEBSERVER = {
    "replicaCount", "image", "nameOverride", "pathPrefix", "service", "workspace", "env", "envConfigMaps",
    "envSecrets", "deploymentLabels", "labels", "nodeSelector", "affinity", "tolerations",
    "podSecurityContext", "securityContext", "resources", "readinessProbe", "livenessProbe",
    "startupProbe", "annotations", "enableReadOnly", "dbStatementTimeout", "dbPoolRecycle", "logLevel",
    "schedulerName", "volumeMounts", "volumes", "initContainerResources",
}  # fmt: skip
WORKSPACE = {"enabled", "servers", "externalConfigmap"}
WORKSPACE_SERVER = {"host", "port", "name", "ssl"}
USER_DEPLOYMENTS = {"enabled", "enableSubchart", "imagePullSecrets", "deployments"}
USER_DEPLOYMENT = {
    "name", "image", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns",
    "deploymentNamespace", "port", "replicaCount", "env", "envConfigMaps", "envSecrets", "annotations",
    "nodeSelector", "affinity", "tolerations", "podSecurityContext", "securityContext", "resources",
    "livenessProbe", "readinessProbe", "startupProbe", "labels", "volumeMounts", "volumes",
    "schedulerName", "initContainers", "sidecarContainers", "deploymentStrategy",
}  # fmt: skip
IMAGE = {"repository", "tag", "pullPolicy"}
PULL_POLICIES = {"Always", "IfNotPresent", "Never"}
RUN_LAUNCHER = {"type", "config"}
RUN_LAUNCHER_TYPES = {"CeleryK8sRunLauncher", "K8sRunLauncher", "CustomRunLauncher"}
RUN_LAUNCHER_CONFIG = {"celeryK8sRunLauncher", "k8sRunLauncher", "customRunLauncher"}
K8S_RUN_LAUNCHER = {
    "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile", "envConfigMaps",
    "envSecrets", "envVars", "volumeMounts", "volumes", "labels", "failPodOnRunFailure", "resources",
    "schedulerName", "securityContext", "runK8sConfig",
}  # fmt: skip
RUN_K8S_CONFIG = {
    "containerConfig",
    "podSpecConfig",
    "podTemplateSpecMetadata",
    "jobSpecConfig",
    "jobMetadata",
}
DAEMON = {
    "enabled", "image", "runCoordinator", "heartbeatTolerance", "env", "envConfigMaps", "envSecrets",
    "deploymentLabels", "labels", "nodeSelector", "affinity", "tolerations", "podSecurityContext",
    "securityContext", "resources", "checkDbReadyInitContainer", "livenessProbe", "readinessProbe",
    "startupProbe", "annotations", "runMonitoring", "runRetries", "sensors", "schedules", "backfills",
    "schedulerName", "logFormat", "volumeMounts", "volumes", "initContainerResources", "extraContainers",
    "extraPrependedInitContainers",
}  # fmt: skip
RUN_COORDINATOR = {"enabled", "type", "config"}
RUN_COORDINATOR_TYPES = {"QueuedRunCoordinator", "CustomRunCoordinator"}
DAEMON_SENSORS = {"useThreads", "numWorkers", "numSubmitWorkers"}
CONCURRENCY = {"enabled", "pools", "runs"}
CONCURRENCY_POOLS = {"defaultLimit", "granularity", "opGranularityRunBuffer"}
CONCURRENCY_RUNS = {"maxConcurrentRuns", "tagConcurrencyLimits"}
TAG_LIMIT = {"key", "value", "limit"}
TELEMETRY = {"enabled"}


def _values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def _workspace_location() -> dict[str, str]:
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text(encoding="utf-8"))
    (entry,) = workspace["load_from"]
    return entry["python_module"]


def _deployment(values: dict[str, Any]) -> dict[str, Any]:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return deployment


def _keys_within(mapping: dict[str, Any], allowed: set[str], where: str) -> None:
    assert isinstance(mapping, dict), f"{where} must be a mapping"
    unknown = sorted(set(mapping) - allowed)
    assert not unknown, f"{where} has keys the chart does not define: {unknown}"


def _flag_value(args: list[str], *flags: str) -> str:
    for index, arg in enumerate(args):
        if arg in flags:
            return args[index + 1]
    raise AssertionError(f"none of {flags} in {args}")


def _dockerfile_lines() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [line.strip() for line in "\n".join(lines).replace("\\\n", " ").splitlines() if line.strip()]


def _final_stage() -> list[str]:
    lines = _dockerfile_lines()
    last_from = max(index for index, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[last_from:]


def _cmd() -> list[str]:
    (cmd,) = [line for line in _final_stage() if line.upper().startswith("CMD ")]
    return yaml.safe_load(cmd[4:])  # the exec form is a JSON array


# -- the Helm values ---------------------------------------------------------------------------------


def test_the_helm_values_parse_and_keep_to_the_charts_keys():
    values = _values()
    _keys_within(values, TOP_LEVEL, "the values")
    _keys_within(values["global"], GLOBAL, "global")
    _keys_within(values["postgresql"], POSTGRESQL, "postgresql")
    _keys_within(values["telemetry"], TELEMETRY, "telemetry")

    webserver = values["dagsterWebserver"]
    _keys_within(webserver, WEBSERVER, "dagsterWebserver")
    _keys_within(webserver["workspace"], WORKSPACE, "dagsterWebserver.workspace")
    for server in webserver["workspace"]["servers"]:
        _keys_within(server, WORKSPACE_SERVER, "dagsterWebserver.workspace.servers[]")

    user_deployments = values["dagster-user-deployments"]
    _keys_within(user_deployments, USER_DEPLOYMENTS, "dagster-user-deployments")
    deployment = _deployment(values)
    _keys_within(deployment, USER_DEPLOYMENT, "the user deployment")
    _keys_within(deployment["image"], IMAGE, "the user deployment's image")

    launcher = values["runLauncher"]
    _keys_within(launcher, RUN_LAUNCHER, "runLauncher")
    _keys_within(launcher["config"], RUN_LAUNCHER_CONFIG, "runLauncher.config")
    k8s = launcher["config"]["k8sRunLauncher"]
    _keys_within(k8s, K8S_RUN_LAUNCHER, "runLauncher.config.k8sRunLauncher")
    _keys_within(k8s["runK8sConfig"], RUN_K8S_CONFIG, "runLauncher.config.k8sRunLauncher.runK8sConfig")

    daemon = values["dagsterDaemon"]
    _keys_within(daemon, DAEMON, "dagsterDaemon")
    _keys_within(daemon["runCoordinator"], RUN_COORDINATOR, "dagsterDaemon.runCoordinator")
    _keys_within(daemon["sensors"], DAEMON_SENSORS, "dagsterDaemon.sensors")

    concurrency = values["concurrency"]
    _keys_within(concurrency, CONCURRENCY, "concurrency")
    _keys_within(concurrency["pools"], CONCURRENCY_POOLS, "concurrency.pools")
    _keys_within(concurrency["runs"], CONCURRENCY_RUNS, "concurrency.runs")
    for limit in concurrency["runs"]["tagConcurrencyLimits"]:
        _keys_within(limit, TAG_LIMIT, "concurrency.runs.tagConcurrencyLimits[]")


def test_the_user_deployment_runs_the_code_server_of_this_code_location():
    values = _values()
    deployment = _deployment(values)
    location = _workspace_location()
    assert user_deployments_enabled(values)
    image = deployment["image"]
    assert image["repository"]
    assert isinstance(image["tag"], str)
    assert image["tag"] != "latest", "a moving tag could give a run pod other code than its code server's"
    assert image["pullPolicy"] in PULL_POLICIES
    # The chart runs `dagster code-server start -h 0.0.0.0 -p <port>` + codeServerArgs.
    assert "dagsterApiGrpcArgs" not in deployment, "one entrypoint: codeServerArgs or dagsterApiGrpcArgs"
    args = deployment["codeServerArgs"]
    assert all(isinstance(arg, str) for arg in args)
    assert _flag_value(args, "-m", "--module-name") == location["module_name"]
    assert _flag_value(args, "-a", "--attribute") == location["attribute"]
    assert _flag_value(args, "--location-name") == location["location_name"]
    assert not {"-p", "--port", "-h", "--host"} & set(args), "the chart passes the host and port itself"
    assert isinstance(deployment["port"], int)
    # The webserver's workspace names the location as workspace.yaml does, at the deployment's Service.
    (server,) = values["dagsterWebserver"]["workspace"]["servers"]
    assert values["dagsterWebserver"]["workspace"]["enabled"] is True
    assert server == {
        "host": deployment["name"],
        "port": deployment["port"],
        "name": location["location_name"],
    }


def user_deployments_enabled(values: dict[str, Any]) -> bool:
    section = values["dagster-user-deployments"]
    return section["enabled"] is True and section["enableSubchart"] is True


def test_run_pods_get_the_volume_the_pairs_and_the_tokens_and_land_on_the_code_servers_node():
    values = _values()
    deployment = _deployment(values)
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert launcher["type"] in RUN_LAUNCHER_TYPES
    k8s = launcher["config"]["k8sRunLauncher"]
    assert k8s["imagePullPolicy"] in PULL_POLICIES
    # The run launcher is the one source of a run pod's settings: the deployment's are not merged in.
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": False}

    def claims(volumes: list[dict[str, Any]]) -> dict[str, str]:
        return {
            v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in volumes
            if "persistentVolumeClaim" in v
        }

    def mounts(volume_mounts: list[dict[str, Any]]) -> dict[str, str]:
        return {m["name"]: m["mountPath"] for m in volume_mounts}

    assert claims(k8s["volumes"]), "run pods write the DuckDB files: they need the persistent volume"
    assert k8s["volumes"] == deployment["volumes"], "run pods and the code server see the same files"
    assert mounts(k8s["volumeMounts"]) == mounts(deployment["volumeMounts"])
    for name in claims(k8s["volumes"]):
        assert name in mounts(k8s["volumeMounts"])
    assert k8s["envSecrets"] == deployment["envSecrets"]
    run_env = dict(item.split("=", 1) for item in k8s["envVars"])
    assert run_env == deployment["env"]
    assert run_env["TEMPO_SYNC_PAIRS"].startswith(tuple(mounts(k8s["volumeMounts"]).values()))

    # A ReadWriteOnce volume: each run pod on the node of the code server's pod.
    pod_spec = k8s["runK8sConfig"]["podSpecConfig"]
    (term,) = pod_spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == {
        "component": "user-deployments",
        "deployment": deployment["name"],
    }
    assert deployment["deploymentStrategy"] == {"type": "Recreate"}

    # The pods run as the image's user, and the volume is theirs to write.
    uid = int(_final_user().split(":")[0])
    for context in (pod_spec["securityContext"], deployment["podSecurityContext"]):
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == uid
        assert context["fsGroup"] == uid


def test_the_helm_run_queue_has_the_limits_of_the_postgres_instance():
    values = _values()
    assert values["dagsterDaemon"]["runCoordinator"]["enabled"] is True
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    queued = values["dagsterDaemon"]["runCoordinator"].get("config", {}).get("queuedRunCoordinator", {})
    # The chart fails when both places set a run limit.
    assert not {"maxConcurrentRuns", "tagConcurrencyLimits"} & set(queued)
    concurrency = values["concurrency"]
    assert concurrency["enabled"] is True
    instance = yaml.safe_load(POSTGRES_INSTANCE.read_text(encoding="utf-8"))
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    runs = instance["concurrency"]["runs"]
    assert concurrency["runs"]["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert concurrency["runs"]["tagConcurrencyLimits"] == runs["tag_concurrency_limits"]
    assert concurrency["runs"]["tagConcurrencyLimits"] == [
        {"key": "tempo_sync/pair", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    assert concurrency["pools"]["defaultLimit"] == instance["concurrency"]["pools"]["default_limit"] == 1
    assert values["telemetry"]["enabled"] == instance["telemetry"]["enabled"]


def test_the_helm_instance_connects_with_the_driver_dagster_postgres_installs():
    # SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which is not installed; the chart
    # writes postgresqlScheme as the instance's `scheme`, as the machine's instance sets it.
    instance = yaml.safe_load(POSTGRES_INSTANCE.read_text(encoding="utf-8"))
    scheme = instance["storage"]["postgres"]["postgres_db"]["scheme"]
    assert scheme == "postgresql+psycopg2"
    assert _values()["postgresql"]["postgresqlScheme"] == scheme
    assert "psycopg2" in _locked_versions() or "psycopg2-binary" in _locked_versions()


def test_the_postgres_password_comes_from_a_secret_the_chart_does_not_generate():
    values = _values()
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    assert "postgresqlPassword" not in values["postgresql"]


# -- the Dockerfile ----------------------------------------------------------------------------------


def _final_user() -> str:
    users = [line.split(None, 1)[1] for line in _final_stage() if line.upper().startswith("USER ")]
    assert users, "the final stage sets no USER: it would run as root"
    return users[-1]


def test_the_dockerfile_installs_from_the_lock_and_runs_as_a_non_root_user():
    lines = _dockerfile_lines()
    froms = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert "${PYTHON_IMAGE}" in froms
    assert any(line == "ARG PYTHON_IMAGE=python:3.11-slim" for line in lines)
    (uv_image,) = [image for image in froms if image.startswith("ghcr.io/astral-sh/uv")]
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", uv_image), "uv pinned to a version"
    syncs = [shlex.split(line) for line in lines if "uv sync" in line]
    assert syncs
    for sync in syncs:
        command = sync[sync.index("uv") :]
        assert {"--locked", "--no-dev", "--compile-bytecode"} <= set(command), command
    assert not any(re.search(r"\bpip install\b", line) for line in lines), (
        "every package comes from the lock, through `uv sync --locked`"
    )
    user = _final_user()
    uid = user.split(":")[0]
    assert uid.isdigit(), "a numeric uid, which Kubernetes' runAsNonRoot can verify"
    assert int(uid) != 0


def test_the_dockerfile_serves_the_code_location_of_workspace_yaml():
    location = _workspace_location()
    cmd = _cmd()
    assert cmd[:3] == ["dagster", "code-server", "start"]
    assert _flag_value(cmd, "-m", "--module-name") == location["module_name"]
    assert _flag_value(cmd, "-a", "--attribute") == location["attribute"]
    assert _flag_value(cmd, "--location-name") == location["location_name"]
    port = int(_flag_value(cmd, "-p", "--port"))
    assert f"EXPOSE {port}" in _final_stage()
    assert port == _deployment(_values())["port"]
    # The chart sets the container's args to the whole command; an ENTRYPOINT would be prefixed to it.
    assert not any(line.upper().startswith("ENTRYPOINT") for line in _final_stage())


def test_the_image_holds_the_wheels_packages_and_not_the_tests():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    lines = _dockerfile_lines()
    copied = {
        line.split()[1].rstrip("/") for line in lines if line.startswith("COPY ") and "--from" not in line
    }
    assert set(packages) <= copied, (
        f"the image lacks packages the code location imports: {set(packages) - copied}"
    )
    assert not copied & {"tests", "benchmarks", "scripts", "docs", "data", "."}
    ignored = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()]
    assert ignored[ignored.index("*")] == "*", "the context starts empty"
    included = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    assert set(packages) <= included
    assert not included & {"tests", "benchmarks", "scripts", "docs", "data", ".venv", "dagster_home"}


def _locked_versions() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    return {package["name"]: package["version"] for package in lock["package"]}


def test_dagster_k8s_is_locked_in_its_group_on_the_library_line_of_the_locked_dagster():
    locked = _locked_versions()
    major, minor, patch = (int(part) for part in locked["dagster"].split("."))
    assert major == 1
    # Dagster's libraries: 0.(minor + 16).patch goes with core 1.minor.patch (pyproject.toml).
    assert locked.get("dagster-k8s") == f"0.{minor + 16}.{patch}", (
        f"dagster {locked['dagster']} goes with dagster-k8s 0.{minor + 16}.{patch}; run `uv lock`"
    )
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    groups = pyproject["dependency-groups"]
    assert groups["k8s"] == [f"dagster-k8s==0.{minor + 16}.*"]
    # Only the image needs the run launcher; a developer's `uv sync` (the dev group) goes without it.
    assert not any("dagster-k8s" in str(requirement) for requirement in pyproject["project"]["dependencies"])
    assert not any("dagster-k8s" in str(requirement) for requirement in groups["dev"])


def test_the_dockerfile_installs_the_k8s_group_in_every_sync():
    """`uv sync` removes what its groups leave out, so a sync without the group would take the run
    launcher out of the image again."""
    syncs = [shlex.split(line) for line in _dockerfile_lines() if "uv sync" in line]
    assert len(syncs) == 2  # the dependencies' layer and the project's
    for sync in syncs:
        command = sync[sync.index("uv") :]
        assert command[command.index("--group") + 1] == "k8s", command
    assert not any("DAGSTER_K8S_VERSION" in line for line in _dockerfile_lines()), (
        "dagster-k8s comes from the lock; no version of it is written in the Dockerfile"
    )


# -- tokens ------------------------------------------------------------------------------------------

_TOKEN_VARIABLE = re.compile(r"\b[A-Z][A-Z0-9_]*_TOKEN\b")
_TOKEN_ENV_KEY = re.compile(r"_token_env$")


def _toml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", markdown, flags=re.DOTALL)


def _token_env_names(document: dict[str, Any]) -> set[str]:
    return {
        value
        for pair in document.get("pairs", [])
        for key, value in pair.items()
        if _TOKEN_ENV_KEY.search(key) and value
    }


def test_every_token_variable_the_deployment_files_name_is_a_pairs_token_env_or_documented():
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    declared = set()
    for block in _toml_blocks(doc):
        declared |= _token_env_names(tomllib.loads(block))
    assert declared, "docs/deploy.md shows a pairs file with its *_token_env names"
    if PAIRS_EXAMPLE.exists():
        declared |= _token_env_names(tomllib.loads(PAIRS_EXAMPLE.read_text(encoding="utf-8")))
    # The single pair's variables, documented in the README and named on docs/deploy.md.
    single_pair = {f"{site}_{service}_TOKEN" for site in ("SOURCE", "DEST") for service in ("JIRA", "TEMPO")}
    for path in (DOCKERFILE, VALUES, DEPLOY_DOC):
        named = set(_TOKEN_VARIABLE.findall(path.read_text(encoding="utf-8")))
        unknown = sorted(named - declared - single_pair)
        assert not unknown, f"{path.name} names token variables no pairs file declares: {unknown}"
    # Every token variable of the documented pairs file is set in the documented environment file.
    environment = {
        line.split("=", 1)[0] for block in re.findall(r"```bash\n(.*?)```", doc, flags=re.DOTALL)
        for line in block.splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", line)
    }  # fmt: skip
    doc_pairs = set().union(*(_token_env_names(tomllib.loads(block)) for block in _toml_blocks(doc)))
    assert doc_pairs <= environment, f"not in the environment file: {sorted(doc_pairs - environment)}"


def test_the_documented_pairs_file_loads(tmp_path, monkeypatch):
    pairs = pytest.importorskip("resources.pairs")
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    (block,) = [block for block in _toml_blocks(doc) if "[[pairs]]" in block]
    document = tomllib.loads(block)
    # The same pair, with its file paths moved into tmp_path: the policy file must exist.
    for table in document["pairs"]:
        (tmp_path / table["config"]).write_text("", encoding="utf-8")
    text = block.replace('"/var/lib/tempo-sync/', f'"{tmp_path}/')
    (tmp_path / "pairs.toml").write_text(text, encoding="utf-8")
    environ = {"TEMPO_SYNC_PAIRS": str(tmp_path / "pairs.toml")}
    environ |= dict.fromkeys(_token_env_names(document), "not-a-real-token")
    loaded = pairs.load_pairs(environ)
    assert [pair.name for pair in loaded] == [table["name"] for table in document["pairs"]]


def _looks_like_a_token(word: str) -> bool:
    if word.startswith("ATATT"):  # Atlassian API tokens
        return True
    if re.fullmatch(r"[0-9a-f]{32,}", word):
        return True
    # A long run of mixed case and digits, as tokens and keys are; names and paths are not.
    return (
        len(word) >= 20
        and re.search(r"[a-z]", word) is not None
        and re.search(r"[A-Z]", word) is not None
        and re.search(r"[0-9]", word) is not None
    )


def test_the_token_detector_finds_what_a_token_looks_like():
    fake = "ATATT3xFfGF0" + "Qz9" * 8
    assert _looks_like_a_token(fake)
    assert _looks_like_a_token("kq3V9sP0LmX7rT2wYb8NcD4e")
    assert _looks_like_a_token("9f86d081884c7d659a2feaa0c55ad015")
    assert not _looks_like_a_token("ACME_TO_US_SOURCE_JIRA_TOKEN")
    assert not _looks_like_a_token("requiredDuringSchedulingIgnoredDuringExecution")
    assert not _looks_like_a_token("tempo-sync-dagster-postgresql")


@pytest.mark.parametrize("path", DEPLOYMENT_FILES, ids=lambda path: path.name)
def test_no_deployment_file_holds_anything_that_looks_like_a_token(path):
    text = path.read_text(encoding="utf-8")
    words = re.findall(r"[A-Za-z0-9_\-+/=]+", text)
    suspicious = sorted({word for word in words if _looks_like_a_token(word)})
    assert not suspicious, f"{path.name} holds what looks like a token or key: {suspicious}"
    # A secret's variable set to a value in place (`NAME=...`, a placeholder, or a reference is fine).
    assignments = re.findall(
        r'(?m)^[\s"-]*([A-Z][A-Z0-9_]*(?:TOKEN|PASSWORD|SECRET|WEBHOOK_URL)[A-Z0-9_]*)=(\S*)', text
    )
    values = [(name, value.strip("\"'")) for name, value in assignments]
    literal = [name for name, value in values if value not in ("", "...") and value[0] not in ("$", "<")]
    assert not literal, f"{path.name} sets secret variables to a value: {literal}"
