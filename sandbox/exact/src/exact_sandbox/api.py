"""The data API under /api/v1: authentication, division access, rate limits, error budget,
fault injection, then the resource itself.

Order of checks per call: bearer token (401) -> division granted (403 NoDivisionAccess) ->
error-budget block (403 TooManyErrors) -> rate limits (429) -> faults -> Accept (406) ->
query validation (400) and resource (404). 4xx answers count toward the error budget.

Size: the checks above run in this order for every call, so they stay in one module where the
order can be read top to bottom (the data itself is in :mod:`exact_sandbox.dataset`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from exact_sandbox import endpoints as ep
from exact_sandbox.aggregates import reporting_balance
from exact_sandbox.dataset import EntityView, LogView
from exact_sandbox.faults import FaultPlan
from exact_sandbox.odata import ListRequest, check_options, envelope, render_rows, serve_list
from exact_sandbox.query import QueryError, parse_select, string_literal
from exact_sandbox.runtime import Sandbox
from exact_sandbox.tokens import AuthFailure, Grant
from exact_sandbox.webhooks import SubscriptionError

Handled = tuple[str, int] | tuple[str, int, int]
"""A resource's answer: body, rows served and, when not 200, the status."""
_SINGLE = re.compile(r"(.+)\(guid'([0-9a-fA-F-]{36})'\)")
_REFUSALS = {
    400: "Bad request on {path} (sandbox: endpoint refused by /_sandbox/model).",
    403: "Forbidden - Application Scope Violated",
    404: "Resource not found: {path}",
}


def error_body(message: str) -> str:
    return json.dumps({"error": {"code": "", "message": {"lang": "", "value": message}}})


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class DroppedResponse(Response):
    """Sends the headers and half the body, then aborts: the server closes the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2],
                    "more_body": True})
        raise ConnectionAbortedError("sandbox fault: connection dropped")


class DataApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/current/Me", self.me, methods=["GET"]),
            Route("/api/v1/{division:int}/webhooks/WebhookSubscriptions", self.webhooks,
                  methods=["GET", "POST"]),
            Route("/api/v1/{division:int}/webhooks/WebhookSubscriptions(guid'{sub_id}')",
                  self.webhooks, methods=["GET", "DELETE"]),
            Route("/api/v1/{division:int}/{path:path}", self.resource, methods=["GET"]),
        ]

    async def me(self, request: Request) -> Response:
        async def handler(grant: Grant, _division: int) -> tuple[str, int]:
            table = ep.me_table(self.sb.directory, grant.user, self.sb.clock.now())
            check_options(request.query_params)
            select = parse_select(request.query_params.get("$select"), table.schema,
                                  table.schema.names)
            rows = [r for _i, r in table.rows(0, 1)]
            return envelope(render_rows(table.schema, select, rows), None), 1

        return await self._call(request, None, "current/Me", handler)

    async def resource(self, request: Request) -> Response:
        division: int = request.path_params["division"]
        path: str = request.path_params["path"]

        async def handler(grant: Grant, div: int) -> tuple[str, int]:
            return await self._dispatch(request, grant, div, path)

        return await self._call(request, division, path, handler)

    async def webhooks(self, request: Request) -> Response:
        """WebhookSubscriptions (see :mod:`exact_sandbox.webhooks`): counted like any call."""
        division: int = request.path_params["division"]
        sub_id: str | None = request.path_params.get("sub_id")
        endpoint = "webhooks/WebhookSubscriptions"
        hooks = self.sb.webhooks

        async def handler(grant: Grant, div: int) -> Handled:
            try:
                if request.method == "POST":
                    raw = json.loads(await request.body() or b"{}")
                    sub = hooks.subscribe(grant.client_id, grant.user.user_id,
                                          grant.user.full_name, div,
                                          raw if isinstance(raw, dict) else {},
                                          self.sb.clock.now())
                    return json.dumps({"d": sub.as_exact(self._app_name(grant))}), 0, 201
                if request.method == "DELETE" and sub_id is not None:
                    hooks.unsubscribe(grant.client_id, div, sub_id)
                    return "", 0, 204
            except SubscriptionError as exc:
                raise ApiError(exc.status, str(exc)) from None
            except ValueError:
                raise ApiError(400, "The request body is not valid JSON.") from None
            subs = [s.as_exact(self._app_name(grant)) for s in hooks.listed(grant.client_id, div)
                    if sub_id is None or s.id == sub_id.lower()]
            if sub_id is not None:
                if not subs:
                    raise ApiError(404, "The requested entity was not found.")
                return json.dumps({"d": subs[0]}), 1
            return json.dumps({"d": {"results": subs}}), len(subs)

        return await self._call(request, division, endpoint, handler)

    def _app_name(self, grant: Grant) -> str:
        app = self.sb.tokens.apps.get(grant.client_id)
        return app.name if app is not None else ""

    # ---- the pipeline --------------------------------------------------------------------

    async def _call(self, request: Request, division: int | None, endpoint: str,
                    handler: Callable[[Grant, int], Awaitable[Handled]]) -> Response:
        sb = self.sb
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        try:
            grant = sb.tokens.authenticate(token)
        except AuthFailure as exc:
            known = sb.tokens.grant_of(token)
            if known is not None and division is not None:
                self._count_error(known, division, endpoint)
            refused = self._unauthorized(str(exc))
            if division is None and known is not None:
                division = known.user.current_division
            sb.access.record(request, division, endpoint, refused.status_code,
                             known.client_id if known is not None else None)
            return refused
        div = grant.user.current_division if division is None else division
        sb.stats.calls_by_endpoint[endpoint] += 1
        sb.stats.calls_by_division[div] += 1
        sb.stats.calls_by_app[grant.client_id] += 1
        with sb.stats.in_flight(div):
            response = await self._guarded(request, grant, div, division, endpoint, handler)
        sb.stats.status_counts[response.status_code] += 1
        sb.access.record(request, div, endpoint, response.status_code, grant.client_id)
        return response

    async def _guarded(self, request: Request, grant: Grant, div: int, division: int | None,
                       endpoint: str,
                       handler: Callable[[Grant, int], Awaitable[Handled]]) -> Response:
        sb = self.sb
        err_key = (grant.client_id, grant.user.user_id, div, endpoint)
        if division is not None and division not in grant.divisions:
            self._count_error(grant, div, endpoint)
            return self._error(403, "Forbidden: no access to this division.",
                               {"Reason": "NoDivisionAccess"})
        until = sb.limiter.blocked_until(err_key)
        if until is not None:
            return self._error(403, "Too many errors on this endpoint: blocked until "
                               f"{int(until * 1000)} (UTC epoch ms).", {"Reason": "TooManyErrors"})
        decision = sb.limiter.take(grant.client_id, div)
        if not decision.allowed:
            sb.stats.responses_429[decision.limit or ""] += 1
            return self._error(429, f"API rate limit exceeded ({decision.limit}).",
                               decision.headers)
        headers = decision.headers
        grant.api_calls += 1
        plan = sb.faults.plan(division, endpoint, grant.api_calls)
        early = await self._apply_faults(request, plan, grant, headers)
        if early is not None:
            return early
        if "application/json" not in request.headers.get("accept", ""):
            return self._finish(err_key, self._error(
                406, "The sandbox serves JSON only: send 'Accept: application/json'.", headers))
        try:
            handled = await handler(grant, div)
        except QueryError as exc:
            return self._finish(err_key, self._error(400, str(exc), headers))
        except ApiError as exc:
            return self._finish(err_key, self._error(exc.status, exc.message,
                                                     {**headers, **exc.headers}))
        body, rows = handled[0], handled[1]
        status = handled[2] if len(handled) > 2 else 200
        if rows:
            sb.stats.rows_served[endpoint] += rows
        if plan.malformed:
            body = body[: max(1, len(body) * 2 // 3)] + ',"'
        if plan.drop:
            return DroppedResponse(body, media_type="application/json", headers=headers)
        if status == 204:
            return Response(status_code=204, headers=headers)
        return Response(body, status_code=status, media_type="application/json",
                        headers=headers)

    async def _apply_faults(self, request: Request, plan: FaultPlan, grant: Grant,
                            headers: dict[str, str]) -> Response | None:
        for kind in plan.kinds:
            self.sb.stats.faults[kind] += 1
        if plan.latency_ms:
            await asyncio.sleep(plan.latency_ms / 1000)
        if plan.revoke:
            self.sb.tokens.withdraw(grant_id=grant.id)
            return self._unauthorized("access token revoked")
        if plan.unauthorized:
            return self._unauthorized("access token expired")
        if plan.error_5xx is not None:
            return self._error(plan.error_5xx, "Internal server error (sandbox fault).", headers)
        if plan.timeout:
            await self._hang(request)
            return self._error(504, "Gateway timeout (sandbox fault).", headers)
        return None

    async def _hang(self, request: Request) -> None:
        """Hold the request until the client gives up (or hang_seconds pass)."""
        async def disconnected() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        try:
            await asyncio.wait_for(disconnected(), self.sb.faults.settings.hang_seconds)
        except TimeoutError:
            pass

    def _finish(self, key: tuple[str, str, int, str], response: Response) -> Response:
        if response.status_code in (400, 401, 403, 404) and self.sb.limiter.record_error(key):
            self.sb.stats.violations["error_budget_blocked"] += 1
        return response

    def _count_error(self, grant: Grant, division: int, endpoint: str) -> None:
        self._finish((grant.client_id, grant.user.user_id, division, endpoint),
                     Response(status_code=401))

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None
               ) -> Response:
        return Response(error_body(message), status_code=status, headers=headers,
                        media_type="application/json")

    def _unauthorized(self, message: str) -> Response:
        self.sb.stats.status_counts[401] += 1
        return self._error(401, "Unauthorized", {
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'})

    # ---- resources -----------------------------------------------------------------------

    async def _dispatch(self, request: Request, grant: Grant, division: int, path: str
                        ) -> tuple[str, int]:
        sb = self.sb
        params = dict(request.query_params)
        model = sb.config.model
        if path in ep.FUNCTIONS:
            ok = ep.user_has_rights(sb.directory, grant.user, division,
                                    string_literal(params, "endpoint"),
                                    string_literal(params, "action").upper())
            return json.dumps({"d": {"UserHasRights": ok}}), 0
        single = _SINGLE.fullmatch(path)
        resource_path = single.group(1) if single else path
        resource = ep.RESOURCES.get(resource_path)
        if resource is None or (single and resource.mode != "regular"):
            raise ApiError(404, f"Resource not found: {path}")
        refused = model.refused_endpoints.get(resource_path)
        if refused is not None:
            raise ApiError(refused, _REFUSALS[refused].format(path=resource_path),
                           {"Reason": "ScopeViolated"} if refused == 403 else None)
        view = await self._view(grant, division, resource.entity)
        if single:
            return self._single(view, single.group(2), params)
        limits = sb.config.limits
        page = serve_list(ListRequest(
            view=view, params=params, mode=resource.mode,
            page_size=limits.page_size_regular if resource.mode == "regular"
            else limits.page_size_bulk,
            base_url=str(request.url.replace(query="")),
            require_filter=resource.sync_twin and sb.config.require_filter_with_sync_twin,
            id_kind="int" if view.schema.fields[0][1] in ("int", "int64") else "guid",
            retired=model.retired_fields.get(resource_path, ()),
            int64_strings=model.int64_as_string,
        ))
        return page.body, page.rows

    def _single(self, view: EntityView, guid: str, params: dict[str, str]) -> tuple[str, int]:
        """`Entity(guid'...')`: one row as `{"d": {...}}`, or 404."""
        index = view.index_of_id(guid)
        rows = [r for _i, r in view.scan(index, [])][:1] if index is not None else []
        if not rows:
            raise ApiError(404, "The requested entity was not found.")
        check_options(params)
        select = parse_select(params.get("$select"), view.schema, view.schema.visible(False))
        return '{"d":' + render_rows(view.schema, select, rows) + "}", 1

    async def _view(self, grant: Grant, division: int, entity: str) -> EntityView:
        sb = self.sb
        if entity in ("Divisions", "AllDivisions", "HrmDivisions"):
            return EntityView(ep.divisions_table(sb.directory, grant.user, grant.divisions,
                                                 entity, division), None)
        if entity == "UserRolesPerDivision":
            return EntityView(ep.roles_table(sb.directory, division), None)
        data = sb.data(division)
        if entity == "Deleted":
            return LogView(ep.deleted_table(data.deleted_rows), data.deleted_ts)
        if entity == "ReportingBalance":
            loop = asyncio.get_running_loop()
            unreported = sb.faults.settings.unreported_lines
            return EntityView(await loop.run_in_executor(None, reporting_balance, data,
                                                         unreported), None)
        return data.view(entity)
