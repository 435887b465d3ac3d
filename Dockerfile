# syntax=docker/dockerfile:1.7
#
# The code location image of tempo-sync: the gRPC code server that Dagster's webserver and daemon
# load the definitions from, and, with the K8sRunLauncher, the image of every run pod
# (docs/deploy.md). Built from uv.lock: `uv sync --locked` stops the build when pyproject.toml and
# the lock disagree, so the image holds the versions CI tested.
#
# Written with care but NOT built here: the machines this was written on have no container engine
# (docs/deploy.md, "What was verified here and what was not").
#
#   docker build -t registry.example.com/tempo-sync:0.1.0 .

ARG PYTHON_IMAGE=python:3.11-slim

# uv, pinned to the version the lock was written and tested with.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy
WORKDIR /src

# The locked dependencies first, in their own layer: a change of code does not reinstall them. The
# group `k8s` (pyproject.toml) is dagster-k8s, the K8sRunLauncher named in the Helm chart's
# instance, which the code server and every run pod (this image) load; it is locked with the rest,
# so the image holds the versions `uv lock` resolved together. Both syncs name the group: a sync
# removes what its groups leave out.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --group k8s --compile-bytecode --no-install-project

# The packages the wheel lists (pyproject.toml, [tool.hatch.build.targets.wheel]); tests,
# benchmarks, docs and scripts stay out (.dockerignore keeps them out of the context too).
COPY cli/ cli/
COPY pipelines/ pipelines/
COPY assets/ assets/
COPY resources/ resources/
COPY replication/ replication/
COPY sandbox/ sandbox/
# The project itself as a wheel, not an editable install: the runtime stage needs only /app/.venv.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --group k8s --compile-bytecode --no-editable

FROM ${PYTHON_IMAGE} AS runtime
# A user without a login and without root: uid and gid 10001, numeric below so that Kubernetes'
# runAsNonRoot can verify it. The Helm values run pods with the same ids and fsGroup 10001, which
# makes the mounted volume of DuckDB files writable for it.
RUN groupadd --system --gid 10001 tempo \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/tempo --create-home \
        --shell /usr/sbin/nologin tempo \
    && mkdir -p /opt/dagster/dagster_home /var/lib/tempo-sync \
    && chown 10001:10001 /opt/dagster/dagster_home /var/lib/tempo-sync
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home
WORKDIR /app
USER 10001:10001
EXPOSE 3030

# No ENTRYPOINT: the Helm chart's user deployment sets the container's args to the whole command
# line (`dagster code-server start -h 0.0.0.0 -p <port>` + codeServerArgs), which replaces this CMD;
# an ENTRYPOINT would be prefixed to it. Run pods get their own command from the K8sRunLauncher.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "3030", "-m", "pipelines.definitions", "-a", "defs", "--location-name", "tempo_sync"]
