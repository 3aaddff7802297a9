"""OAuth 2.0 authorization-code flow: sign-in page, consent page, redirect, token endpoint.

An unregistered client or redirect URI gets an error page, never a redirect. A user of another
instance fails sign-in exactly like an unknown user. Token responses follow tokens.py.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from exact_sandbox.pages import render
from exact_sandbox.runtime import Sandbox
from exact_sandbox.seed import INSTANCE_HOSTS, User
from exact_sandbox.tokens import TokenError

SESSION_COOKIE = "exact_sandbox_session"


@dataclass
class AuthRequest:
    client_id: str
    redirect_uri: str
    state: str | None
    expires: float
    user: User | None = None


class OAuthPages:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self.requests: dict[str, AuthRequest] = {}
        self.sessions: dict[str, User] = {}
        self.host = INSTANCE_HOSTS.get(sandbox.config.instance, "")

    def routes(self) -> list[Route]:
        return [
            Route("/api/oauth2/auth", self.authorize, methods=["GET"]),
            Route("/api/oauth2/auth/signin", self.signin, methods=["POST"]),
            Route("/api/oauth2/auth/consent", self.consent_page, methods=["GET"]),
            Route("/api/oauth2/auth/consent", self.consent, methods=["POST"]),
            Route("/api/oauth2/token", self.token, methods=["POST"]),
        ]

    def _page(self, name: str, status: int = 200, **ctx: object) -> HTMLResponse:
        return HTMLResponse(render(name, host=self.host, **ctx), status_code=status)

    def _error(self, message: str) -> HTMLResponse:
        return self._page("error", 400, message=message)

    @staticmethod
    def _redirect(uri: str, params: dict[str, str | None]) -> RedirectResponse:
        parts = urlsplit(uri)
        extra = urlencode({k: v for k, v in params.items() if v is not None})
        query = f"{parts.query}&{extra}" if parts.query else extra
        return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)

    def _app_name(self, req: AuthRequest) -> str:
        app = self.sb.tokens.apps.get(req.client_id)
        return app.name if app else req.client_id

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        app = self.sb.tokens.apps.get(q.get("client_id", ""))
        if app is None:
            return self._error("De applicatie (client_id) is onbekend.")
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in app.redirect_uris:
            return self._error("De redirect_uri komt niet overeen met de geregistreerde "
                               "redirect URI van deze applicatie.")
        state = q.get("state")
        if q.get("response_type") != "code":
            return self._redirect(redirect_uri,
                                  {"error": "unsupported_response_type", "state": state})
        rid = secrets.token_urlsafe(16)
        req = AuthRequest(app.client_id, redirect_uri, state, self.sb.clock.now() + 1800)
        self.requests[rid] = req
        user = self.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        if user is not None and q.get("force_login", "0") != "1":
            req.user = user
            return RedirectResponse(f"/api/oauth2/auth/consent?request_id={rid}", 303)
        return self._page("signin", app_name=app.name, request_id=rid, error=None, username="")

    def _pending(self, rid: str) -> AuthRequest | None:
        req = self.requests.get(rid)
        if req is None or req.expires < self.sb.clock.now():
            return None
        return req

    async def signin(self, request: Request) -> Response:
        form = await request.form()
        rid = str(form.get("request_id", ""))
        req = self._pending(rid)
        if req is None:
            return self._error("De inlogsessie is verlopen. Start de koppeling opnieuw.")
        username = str(form.get("username", ""))
        user = self.sb.directory.authenticate(username, str(form.get("password", "")))
        if user is None:
            return self._page("signin", 200, app_name=self._app_name(req), request_id=rid,
                              username=username,
                              error="De gebruikersnaam of het wachtwoord is onjuist.")
        req.user = user
        session = secrets.token_urlsafe(16)
        self.sessions[session] = user
        response = RedirectResponse(f"/api/oauth2/auth/consent?request_id={rid}", 303)
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="lax")
        return response

    def _divisions(self, user: User) -> list[object]:
        d = self.sb.directory.divisions
        return [d[c] for c in user.divisions if c in d]

    async def consent_page(self, request: Request) -> Response:
        rid = request.query_params.get("request_id", "")
        req = self._pending(rid)
        if req is None or req.user is None:
            return self._error("De inlogsessie is verlopen. Start de koppeling opnieuw.")
        return self._page("consent", app_name=self._app_name(req), request_id=rid,
                          user=req.user, divisions=self._divisions(req.user), error=None)

    async def consent(self, request: Request) -> Response:
        form = await request.form()
        rid = str(form.get("request_id", ""))
        req = self._pending(rid)
        if req is None or req.user is None:
            return self._error("De inlogsessie is verlopen. Start de koppeling opnieuw.")
        if form.get("decision") != "approve":
            del self.requests[rid]
            return self._redirect(req.redirect_uri, {"error": "access_denied",
                                                     "state": req.state})
        chosen = {int(str(v)) for v in form.getlist("division") if str(v).isdigit()}
        granted = tuple(c for c in req.user.divisions if c in chosen)
        if not granted:
            return self._page("consent", 200, app_name=self._app_name(req), request_id=rid,
                              user=req.user, divisions=self._divisions(req.user),
                              error="Selecteer ten minste één administratie.")
        del self.requests[rid]
        code = self.sb.tokens.issue_code(req.client_id, req.redirect_uri, req.user, granted)
        return self._redirect(req.redirect_uri, {"code": code, "state": req.state})

    async def token(self, request: Request) -> Response:
        plan = self.sb.faults.plan(None, "oauth2/token", 0)
        for kind in plan.kinds:
            self.sb.stats.faults[kind] += 1
        if plan.latency_ms:
            await asyncio.sleep(plan.latency_ms / 1000)
        if plan.error_5xx is not None:
            return JSONResponse({"error": "server_error"}, status_code=plan.error_5xx)
        form = await request.form()
        client_id = str(form.get("client_id", ""))
        client_secret = str(form.get("client_secret", ""))
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                raw = base64.b64decode(auth[6:].strip()).decode()
                cid, _, secret = raw.partition(":")
                client_id, client_secret = unquote(cid), unquote(secret)
            except (ValueError, UnicodeDecodeError):
                pass
        grant_type = str(form.get("grant_type", ""))
        tokens = self.sb.tokens
        try:
            if grant_type == "authorization_code":
                body = tokens.exchange_code(client_id, client_secret, str(form.get("code", "")),
                                            str(form.get("redirect_uri", "")))
            elif grant_type == "refresh_token":
                body = tokens.refresh(client_id, client_secret,
                                      str(form.get("refresh_token", "")))
            else:
                raise TokenError(400, "unsupported_grant_type",
                                 f"The grant_type '{grant_type}' is not supported.")
        except TokenError as exc:
            self.sb.stats.status_counts[exc.status] += 1
            return JSONResponse({"error": exc.error, "error_description": exc.description},
                                status_code=exc.status,
                                headers={"Cache-Control": "no-store", **exc.headers})
        self.sb.stats.status_counts[200] += 1
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
