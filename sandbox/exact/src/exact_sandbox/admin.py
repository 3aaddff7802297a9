"""Admin and inspection endpoints under /_sandbox (never on a real API path).

Shapes are documented in the README: stats, expected figures, clock, faults, limits, grants
(create for tests, list, withdraw), data changes, users and divisions.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exact_sandbox.aggregates import expected
from exact_sandbox.changes import ChangeError, apply_changes
from exact_sandbox.config import (
    FaultSettings,
    Limits,
    ModelSettings,
    faults_from_dict,
    model_from_dict,
)
from exact_sandbox.runtime import Sandbox
from exact_sandbox.seed import stable_guid


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


class Admin:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def routes(self) -> list[Route]:
        r = Route
        return [
            r("/_sandbox/health", self.health, methods=["GET"]),
            r("/_sandbox/stats", self.stats, methods=["GET"]),
            r("/_sandbox/stats/reset", self.stats_reset, methods=["POST"]),
            r("/_sandbox/expected/{division:int}", self.expected, methods=["GET"]),
            r("/_sandbox/clock", self.clock, methods=["GET", "POST"]),
            r("/_sandbox/faults", self.faults, methods=["GET", "PUT", "PATCH", "DELETE"]),
            r("/_sandbox/faults/divisions/{division:int}", self.division_faults,
              methods=["GET", "PUT", "PATCH", "DELETE"]),
            r("/_sandbox/limits", self.limits, methods=["GET", "PATCH"]),
            r("/_sandbox/limits/reset", self.limits_reset, methods=["POST"]),
            r("/_sandbox/model", self.model, methods=["GET", "PATCH", "DELETE"]),
            r("/_sandbox/grants", self.grants, methods=["GET", "POST"]),
            r("/_sandbox/grants/withdraw", self.withdraw, methods=["POST"]),
            r("/_sandbox/tokens", self.tokens, methods=["GET"]),
            r("/_sandbox/divisions", self.divisions, methods=["GET"]),
            r("/_sandbox/companies", self.companies, methods=["GET"]),
            r("/_sandbox/divisions/{division:int}/changes", self.changes, methods=["POST"]),
            r("/_sandbox/users", self.users, methods=["GET"]),
            r("/_sandbox/webhooks", self.webhooks, methods=["GET", "PATCH"]),
            r("/_sandbox/webhooks/drain", self.webhooks_drain, methods=["POST"]),
        ]

    async def health(self, _request: Request) -> Response:
        return JSONResponse({"ok": True, "instance": self.sb.config.instance})

    async def stats(self, _request: Request) -> Response:
        return JSONResponse(self.sb.stats.snapshot())

    async def stats_reset(self, _request: Request) -> Response:
        self.sb.stats.reset()
        return JSONResponse(self.sb.stats.snapshot())

    async def expected(self, request: Request) -> Response:
        code: int = request.path_params["division"]
        if code not in self.sb.directory.divisions:
            return _bad(f"unknown division {code}", 404)
        data = self.sb.data(code)
        figures = await asyncio.get_running_loop().run_in_executor(
            None, expected, data, self.sb.faults.settings.unreported_lines)
        return JSONResponse({"division": code, "data_version": data.version,
                             "entities": figures})

    async def clock(self, request: Request) -> Response:
        clock = self.sb.clock
        if request.method == "POST":
            try:
                body = await _json(request)
                if "set" in body:
                    value = body["set"]
                    clock.set(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
                              if isinstance(value, str) else float(value))
                if "advance" in body:
                    clock.advance(float(body["advance"]))
                if "speed" in body:
                    clock.set_speed(float(body["speed"]))
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
        return JSONResponse(clock.snapshot())

    async def faults(self, request: Request) -> Response:
        injector = self.sb.faults
        try:
            if request.method == "PUT":
                injector.configure(faults_from_dict(await _json(request)), keep_divisions=True)
            elif request.method == "PATCH":
                injector.configure(faults_from_dict(await _json(request), injector.settings),
                                   keep_divisions=True)
            elif request.method == "DELETE":
                injector.configure(FaultSettings(seed=injector.settings.seed))
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return JSONResponse(dataclasses.asdict(injector.settings))

    async def division_faults(self, request: Request) -> Response:
        """One division's own faults (replacing the general ones for its calls)."""
        injector = self.sb.faults
        division: int = request.path_params["division"]
        own = injector.by_division.get(division)
        try:
            if request.method == "PUT":
                injector.configure_division(division, faults_from_dict(await _json(request)))
            elif request.method == "PATCH":
                base = own.settings if own else None
                injector.configure_division(division, faults_from_dict(await _json(request), base))
            elif request.method == "DELETE":
                injector.configure_division(division, None)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        own = injector.by_division.get(division)
        return JSONResponse(dataclasses.asdict(own.settings) if own else None)

    async def limits(self, request: Request) -> Response:
        limits = self.sb.config.limits
        if request.method == "PATCH":
            body = await _json(request)
            known = {f.name for f in dataclasses.fields(Limits)}
            if set(body) - known:
                return _bad(f"unknown limits: {sorted(set(body) - known)}")
            for key, value in body.items():
                setattr(limits, key, value)
        return JSONResponse(dataclasses.asdict(limits))

    async def model(self, request: Request) -> Response:
        """Exact's data model as served: Int64 as strings, retired fields, refused endpoints."""
        cfg = self.sb.config
        try:
            if request.method == "PATCH":
                cfg.model = model_from_dict(await _json(request), cfg.model)
            elif request.method == "DELETE":
                cfg.model = ModelSettings()
        except (ValueError, TypeError, AttributeError) as exc:
            return _bad(str(exc))
        return JSONResponse(dataclasses.asdict(cfg.model))

    async def limits_reset(self, _request: Request) -> Response:
        self.sb.limiter.reset()
        return JSONResponse({"ok": True})

    async def grants(self, request: Request) -> Response:
        tokens = self.sb.tokens
        if request.method == "GET":
            return JSONResponse([g.public() for g in tokens.grants.values()])
        body = await _json(request)
        user = self.sb.directory.users.get(str(body.get("username", "")).lower())
        if user is None or user.instance != self.sb.config.instance:
            return _bad("unknown user on this instance", 404)
        client_id = str(body.get("client_id", self.sb.config.apps[0].client_id))
        if client_id not in tokens.apps:
            return _bad("unknown client_id", 404)
        divisions = tuple(int(d) for d in body.get("divisions", user.divisions))
        if not set(divisions) <= set(user.divisions):
            return _bad("the user has no access to some of these divisions")
        grant = tokens.create_grant(client_id, user, divisions)
        return JSONResponse({"grant_id": grant.id, **tokens.issue(grant)})

    async def withdraw(self, request: Request) -> Response:
        body = await _json(request)
        done = self.sb.tokens.withdraw(username=body.get("username"),
                                       client_id=body.get("client_id"),
                                       grant_id=body.get("grant_id"))
        return JSONResponse({"withdrawn": done})

    async def tokens(self, _request: Request) -> Response:
        return JSONResponse(self.sb.tokens.issued_secrets())

    async def divisions(self, _request: Request) -> Response:
        return JSONResponse([
            {"code": d.code, "description": d.description, "instance": d.instance,
             "customer": d.customer_name, "transaction_lines": d.transaction_lines,
             "start_year": d.start_year, "years": d.years}
            for d in self.sb.directory.divisions.values()
        ])

    async def companies(self, _request: Request) -> Response:
        """Many-companies mode: the generated codes, how to sign in, and how many are built."""
        many = self.sb.directory.companies
        if many is None:
            return JSONResponse({"count": 0, "resident": 0})
        return JSONResponse({
            "count": many.count, "first_code": many.first_code, "rows": many.rows,
            "admin_username": "admin.{code}@companies.sandbox",
            "admin_password": "company-{code}",
            "resident": self.sb.resident_companies(),
            "resident_limit": self.sb.config.companies.resident})

    async def changes(self, request: Request) -> Response:
        code: int = request.path_params["division"]
        if code not in self.sb.directory.divisions:
            return _bad(f"unknown division {code}", 404)
        try:
            body = await _json(request)
            result = apply_changes(self.sb.data(code), self.sb.config.seed, body,
                                   self.sb.clock.now(), stable_guid("user:sandbox-admin"))
        except (ChangeError, ValueError, TypeError) as exc:
            return _bad(str(exc))
        base = str(request.base_url).rstrip("/")
        planned = self.sb.webhooks.notify(base, code, str(body.get("entity", "TransactionLines")),
                                          result, self.sb.clock.now())
        return JSONResponse({**result.as_dict(), "webhook_deliveries": planned})

    async def webhooks(self, request: Request) -> Response:
        """Subscriptions, delivery counts and faults; PATCH {"faults": {...}} sets the faults."""
        if request.method == "PATCH":
            try:
                self.sb.webhooks.configure(dict((await _json(request)).get("faults", {})))
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
        return JSONResponse(self.sb.webhooks.as_dict())

    async def webhooks_drain(self, _request: Request) -> Response:
        await self.sb.webhooks.drain()
        return JSONResponse(self.sb.webhooks.as_dict())

    async def users(self, _request: Request) -> Response:
        d = self.sb.directory
        return JSONResponse([
            {"username": u.username, "password": u.password, "user_id": u.user_id,
             "full_name": u.full_name, "instance": u.instance,
             "current_division": u.current_division,
             "roles": {str(k): list(v) for k, v in u.roles.items()},
             "admin_of": [c for c in u.divisions if d.is_admin(u, c)],
             "demonstrates": u.demonstrates}
            for u in d.users.values()
        ])
