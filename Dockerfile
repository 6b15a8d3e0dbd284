# syntax=docker/dockerfile:1
# valossa-ingest: one image for the API (`serve`, the default), the `worker` and `migrate`.
# Stage 1 builds our wheel and installs it with its locked dependencies into a virtualenv;
# stage 2 copies only that virtualenv onto a fresh slim base: no compilers, caches or tests.
# Only what production runs: no optional extras ([emulator], [dev]), no pip or setuptools.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY service/ service/
COPY migrations/ migrations/
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt /wheels/valossa_ingest-*.whl \
 && /opt/venv/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE} AS runtime
# Bytecode was compiled at install time; the root filesystem is read-only in the pod.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
# Numeric so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /tmp
# 8080: `serve` (HTTP API); 8081: the worker's /healthz and /readyz.
EXPOSE 8080 8081
# Exec form: the Python process is PID 1 and receives SIGTERM for a graceful shutdown.
ENTRYPOINT ["valossa-ingest"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
