# One image recipe for every service; SERVICE picks the workspace member (auth, datasource, ingest).
# Built with uv from the committed lock, so images match what the tests ran.
FROM python:3.11-slim AS build
ARG SERVICE
COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
COPY sandbox sandbox
RUN uv sync --frozen --no-dev --package exact-${SERVICE} --no-editable

FROM python:3.11-slim
ARG SERVICE
ENV PATH=/app/.venv/bin:$PATH SERVICE=${SERVICE} LOG_FORMAT=json
RUN useradd --system --uid 10001 app
COPY --from=build /app/.venv /app/.venv
USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"HTTP_PORT\",\"8000\")}/readyz', timeout=2)"
CMD ["sh", "-c", "exec exact-${SERVICE}"]
