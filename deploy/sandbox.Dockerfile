# The Exact Online sandbox, for staging environments that must not reach Exact.
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
COPY sandbox sandbox
RUN uv sync --frozen --no-dev --package exact-sandbox --no-editable

FROM python:3.11-slim
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 app
COPY --from=build /app/.venv /app/.venv
USER app
EXPOSE 8765
CMD ["exact-sandbox", "--host", "0.0.0.0", "--port", "8765"]
