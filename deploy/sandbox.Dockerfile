# The Exact Online sandbox, for staging environments that must not reach Exact.
FROM python:3.11-slim
COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
COPY sandbox sandbox
RUN uv sync --frozen --no-dev --package exact-sandbox --no-editable
ENV PATH=/app/.venv/bin:$PATH
EXPOSE 8765
CMD ["exact-sandbox", "--host", "0.0.0.0", "--port", "8765"]
