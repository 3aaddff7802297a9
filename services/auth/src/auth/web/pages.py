"""Browser-facing pages: the link landing page, the OAuth callback, the division chooser and
the outcome page. Server-rendered HTML (Jinja2), usable without JavaScript.

A browser that starts a sign-in gets an HttpOnly cookie with a random secret (a fresh one at
every start); the session keeps its hash, so the callback, the chooser and the outcome page
answer only that browser. Every form carries a CSRF token and every POST is checked for it and
for its Origin (``auth.web.csrf``); security headers come from ``auth.web.headers``.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from auth.domain.errors import (
    CodeAnswerLost,
    DivisionsNotReadable,
    ExactError,
    ExactUnavailable,
    ForgedState,
    LinkError,
    LinkExpired,
    LinkInvalid,
    LinkRevoked,
    LinkUsed,
    WrongStep,
)
from auth.domain.exact import preselected
from auth.domain.model import Status
from auth.ports import Dependencies
from auth.usecases import signin
from auth.web import csrf
from auth.web.headers import page_policy

log = structlog.get_logger("auth.pages")

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

_LINK_PROBLEMS: dict[type[LinkError], tuple[int, str, str]] = {
    LinkInvalid: (404, "This link is not valid",
                  "The link is incomplete or was changed. Ask the person who sent it for the "
                  "link again; copy the whole link."),
    LinkExpired: (410, "This link has expired",
                  "Links to connect Exact Online work for a limited time. Ask the person who "
                  "sent it to start the authorization again; they will get a new link."),
    LinkUsed: (410, "This link has already been used",
               "A link can be used once. It was already used to connect, or a connection with "
               "it is in progress in another browser. Ask the person who sent it for a new "
               "link if the company is not connected yet."),
    LinkRevoked: (410, "This link is no longer valid",
                  "A newer link replaced this one. Use the newest link you were sent."),
}


def get_deps(request: Request) -> Dependencies:
    deps: Dependencies = request.app.state.deps
    return deps


Deps = Annotated[Dependencies, Depends(get_deps)]


def _page(request: Request, name: str, status: int = 200, *,
          forms_of: uuid.UUID | None = None, secret: str | None = None,
          **context: Any) -> HTMLResponse:
    """A page; its forms (of authorization ``forms_of``) carry the CSRF token of ``secret``,
    this browser's binding secret (read from the cookie unless given)."""
    nonce = secrets.token_urlsafe(16)
    context.setdefault("product", request.app.state.product_name)
    context["csp_nonce"] = nonce
    if forms_of is not None:
        secret = secret if secret is not None else csrf.browser_secret(request, forms_of)
        context["csrf"] = csrf.token(request, forms_of, secret)
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = page_policy(
        nonce, request.app.state.exact_origins)
    return response


def _problem(request: Request, status: int, title: str, message: str,
             restart: uuid.UUID | None = None) -> HTMLResponse:
    return _page(request, "problem.html", status, title=title, message=message, restart=restart,
                 forms_of=restart)


def _refused_post(request: Request, authorization_id: uuid.UUID, sent: str | None
                  ) -> HTMLResponse | None:
    """The refusal of a POST that is not this browser's own form, or None to go on."""
    why = csrf.forged(request, authorization_id, csrf.browser_secret(request, authorization_id),
                      sent)
    if why is None:
        return None
    log.warning("form_post_refused", why=why, authorization_id=str(authorization_id))
    return _problem(request, 403, "This form could not be accepted",
                    "The form was not sent from this page in this browser (or it is too old), "
                    "so nothing was done. Open the link you were sent again and start over.")


def _link_problem(request: Request, exc: LinkError) -> HTMLResponse:
    status, title, message = _LINK_PROBLEMS.get(type(exc), _LINK_PROBLEMS[LinkInvalid])
    log.info("link_refused", reason=exc.reason)
    return _problem(request, status, title, message)


def _forged(request: Request) -> HTMLResponse:
    return _problem(request, 400, "This sign-in could not be verified",
                    "The answer from Exact Online does not belong to a sign-in started in this "
                    "browser, so nothing was changed. Open the link you were sent and start "
                    "again.")


def _exact_problem(request: Request, exc: ExactError, authorization_id: uuid.UUID | None
                   ) -> HTMLResponse:
    log.warning("sign_in_exact_failed", error=type(exc).__name__, detail=str(exc))
    if isinstance(exc, ExactUnavailable):
        message = ("Exact Online could not be reached or did not answer properly, also after "
                   "several tries. Nothing was connected. Please try again in a few minutes.")
    elif isinstance(exc, CodeAnswerLost):
        message = ("Exact Online's answer to your sign-in was lost on the way, and the one-time "
                   "sign-in code it gave cannot be used twice. Nothing was connected. Sign in "
                   "again; it takes one more approval at Exact Online.")
    else:
        message = ("Exact Online did not accept the sign-in, so nothing was connected. "
                   "Please sign in again.")
    return _problem(request, 503 if isinstance(exc, ExactUnavailable) else 502,
                    "The connection with Exact Online did not succeed", message,
                    restart=authorization_id)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def build_pages_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/share/{token}", response_class=HTMLResponse)
    async def landing(request: Request, token: str, deps: Deps) -> Response:
        owner = _link_owner(deps, token)
        browser = csrf.browser_secret(request, owner)
        try:
            session = await signin.landing(deps, token, browser)
        except LinkError as exc:
            return _link_problem(request, exc)
        secret = browser or csrf.new_secret()  # the form's token is bound to this cookie
        supported = deps.config.supported_regions
        response = _page(request, "landing.html", session=session, token=token,
                         regions=deps.config.regions, supported=supported,
                         default_region=supported[0].code if supported else "",
                         forms_of=session.authorization_id, secret=secret)
        if browser is None:
            csrf.set_binding(request, response, session.authorization_id, secret)
        return response

    @router.post("/share/{token}/start")
    async def start(request: Request, token: str, deps: Deps,
                    region: Annotated[str, Form()] = "",
                    csrf_token: Annotated[str | None, Form()] = None) -> Response:
        owner = _link_owner(deps, token)
        if owner is None:
            return _link_problem(request, LinkInvalid("not one of our links"))
        refused = _refused_post(request, owner, csrf_token)
        if refused is not None:
            return refused
        browser = csrf.new_secret()  # a fresh binding at every sign-in (session rotation)
        try:
            started = await signin.start_sign_in(deps, token, browser, region)
        except LinkError as exc:
            return _link_problem(request, exc)
        except WrongStep:
            return _problem(request, 400, "Choose where your company is",
                            "Go back and choose the Exact Online instance of your company.")
        target = started.redirect_url or f"/authorizations/{started.session.authorization_id}"
        response = _see_other(target)
        csrf.set_binding(request, response, owner, browser)
        return response

    @router.get("/oauth/callback")
    async def oauth_callback(request: Request, deps: Deps) -> Response:
        q = request.query_params
        try:
            session = await signin.callback(
                deps, state=q.get("state"), code=q.get("code"), error=q.get("error"),
                error_description=q.get("error_description"),
                browser=csrf.browser_secret(request, _state_owner(deps, q.get("state"))))
        except (ForgedState, WrongStep):
            log.warning("oauth_callback_refused")
            return _forged(request)
        except DivisionsNotReadable as exc:
            return _problem(
                request, 409, "Access to the open company is missing",
                f"You allowed access to companies in Exact Online, but not to the company that "
                f"is open in your Exact Online now (division {exc.current_division}), so the "
                "list of companies cannot be read. Sign in again and also allow access to that "
                "company, or first open the company you want to connect in Exact Online.",
                restart=_state_owner(deps, q.get("state")))
        except ExactError as exc:
            authorization_id = _state_owner(deps, q.get("state"))
            return _exact_problem(request, exc, authorization_id)
        return _see_other(f"/authorizations/{session.authorization_id}")

    @router.post("/authorizations/{authorization_id}/restart")
    async def restart(request: Request, authorization_id: uuid.UUID, deps: Deps,
                      csrf_token: Annotated[str | None, Form()] = None) -> Response:
        refused = _refused_post(request, authorization_id, csrf_token)
        if refused is not None:
            return refused
        fresh = csrf.new_secret()
        try:
            url = await signin.restart_sign_in(deps, authorization_id,
                                               csrf.browser_secret(request, authorization_id),
                                               fresh)
        except (ForgedState, WrongStep):
            return _see_other(f"/authorizations/{authorization_id}")
        except LinkError as exc:
            return _link_problem(request, exc)
        response = _see_other(url)
        csrf.set_binding(request, response, authorization_id, fresh)
        return response

    @router.post("/authorizations/{authorization_id}/division")
    async def choose(request: Request, authorization_id: uuid.UUID, deps: Deps,
                     division: Annotated[int, Form()],
                     csrf_token: Annotated[str | None, Form()] = None) -> Response:
        refused = _refused_post(request, authorization_id, csrf_token)
        if refused is not None:
            return refused
        try:
            await signin.choose_division(deps, authorization_id, division,
                                         csrf.browser_secret(request, authorization_id))
        except ForgedState:
            return _forged(request)
        except WrongStep:
            return _see_other(f"/authorizations/{authorization_id}")
        except ExactError as exc:
            return _exact_problem(request, exc, authorization_id)
        return _see_other(f"/authorizations/{authorization_id}")

    @router.get("/authorizations/{authorization_id}", response_class=HTMLResponse)
    async def outcome(request: Request, authorization_id: uuid.UUID, deps: Deps) -> Response:
        try:
            seen = await signin.outcome(deps, authorization_id,
                                        csrf.browser_secret(request, authorization_id))
        except ForgedState:
            return _problem(request, 404, "Nothing to show here",
                            "This page shows the result of a connection only in the browser "
                            "that made it.")
        session = seen.session
        if session.status is Status.CHOOSING:
            exact_user = session.exact_user
            chosen = preselected(session.choices, session.bound_division,
                                 exact_user.current_division if exact_user else None)
            return _page(request, "divisions.html", session=session, chosen=chosen,
                         forms_of=authorization_id)
        waiting = (session.status is Status.CONNECTED and session.purpose == "recreate"
                   and seen.grant is not None and seen.grant.status.value == "pending")
        return _page(request, "outcome.html", session=session, grant=seen.grant,
                     waiting=waiting, forms_of=authorization_id)

    return router


def _link_owner(deps: Dependencies, token: str) -> uuid.UUID | None:
    try:
        return deps.signer.read_link(token)[0]
    except LinkError:
        return None


def _state_owner(deps: Dependencies, state: str | None) -> uuid.UUID | None:
    if not state:
        return None
    try:
        return deps.signer.read_state(state)
    except ForgedState:
        return None
