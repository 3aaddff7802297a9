"""ASGI wiring: `create_app(config)` builds the Starlette app around one `Sandbox`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exact_sandbox.admin import Admin
from exact_sandbox.api import DataApi, error_body
from exact_sandbox.clock import Clock
from exact_sandbox.config import SandboxConfig
from exact_sandbox.oauth import OAuthPages
from exact_sandbox.runtime import Sandbox


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return Response(error_body("Not found"), status_code=404, media_type="application/json")


def create_app(config: SandboxConfig | None = None, clock: Clock | None = None) -> Starlette:
    sandbox = Sandbox(config or SandboxConfig(), clock)
    routes: list[Route] = [
        *OAuthPages(sandbox).routes(),
        *DataApi(sandbox).routes(),
        *Admin(sandbox).routes(),
        *sandbox.access.routes(),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found})
    app.state.sandbox = sandbox
    return app
