"""The browser side of an authorization: landing page, sign-in at Exact, callback, the
division choice and the administrator check, and what the outcome page shows.

``browser`` is the secret of the browser's binding cookie; only its hash is stored.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass

import structlog

from auth.domain.errors import DivisionsNotReadable, ExactRejected, ForgedState, LinkInvalid, WrongStep
from auth.domain.exact import DivisionChoice, administrator_decision
from auth.domain.grants import Grant, GrantStatus
from auth.domain.model import AuthorizationSession
from auth.domain.tokens import sha256_hex
from auth.ports import Dependencies, RegionInfo, UnitOfWork
from auth.usecases.messages import publish_events
from connector_runtime.observability.logcontext import bind

log = structlog.get_logger("auth.signin")


def _bind(session: AuthorizationSession | None) -> None:
    """The rest of this request's log lines are about this authorization's data source."""
    if session is not None:
        bind(authorization_id=session.authorization_id, datasource_id=session.datasource_id,
             correlation_id=session.correlation_id)


def _hash(secret: str | None) -> str | None:
    return sha256_hex(secret) if secret else None


def region_refusal(region: RegionInfo, supported: tuple[RegionInfo, ...]) -> str:
    hosts = " or ".join(f"{r.host} ({r.name})" for r in supported)
    return (f"Your Exact Online company is on the instance of {region.name} ({region.host}). "
            f"Only companies on {hosts} can be connected today, so this company cannot be "
            "connected.")


async def landing(deps: Dependencies, token: str, browser: str | None) -> AuthorizationSession:
    """The session behind a link; raises a LinkError when the link cannot be used."""
    authorization_id, _nonce = deps.signer.read_link(token)
    async with deps.uow() as uow:
        session = await uow.sessions.get(authorization_id)
        _bind(session)
    if session is None:
        raise LinkInvalid("no such authorization")
    session.check_link(sha256_hex(token), deps.clock(), _hash(browser))
    return session


@dataclass(frozen=True)
class SignInStart:
    session: AuthorizationSession
    redirect_url: str | None
    """Exact's sign-in page; None when the authorization ended (region refused)."""


async def start_sign_in(deps: Dependencies, token: str, browser: str, region_code: str
                        ) -> SignInStart:
    authorization_id, _nonce = deps.signer.read_link(token)
    region = deps.config.region(region_code)
    if region is None:
        raise WrongStep("unknown Exact Online instance")
    state = deps.signer.new_state(authorization_id)
    async with deps.uow() as uow:
        session = await uow.sessions.get(authorization_id, for_update=True)
        _bind(session)
        if session is None:
            raise LinkInvalid("no such authorization")
        started = session.start_sign_in(
            token_sha256=sha256_hex(token), browser_sha256=sha256_hex(browser),
            state_sha256=sha256_hex(state), region=region.code, region_supported=region.supported,
            refusal=region_refusal(region, deps.config.supported_regions), now=deps.clock(),
        )
        await _save(deps, uow, session)
    log.info("sign_in_started" if started else "sign_in_refused_region",
             authorization_id=str(authorization_id), region=region.code)
    return SignInStart(session, deps.oauth.authorization_url(region.code, state) if started else None)


async def restart_sign_in(deps: Dependencies, authorization_id: uuid.UUID, browser: str | None,
                          fresh: str | None = None) -> str:
    """Exact's sign-in page again, for the browser that started (after a failed attempt);
    ``fresh`` is the browser's new binding secret from now on (session rotation)."""
    state = deps.signer.new_state(authorization_id)
    async with deps.uow() as uow:
        session = await uow.sessions.get(authorization_id, for_update=True)
        _bind(session)
        if session is None or browser is None:
            raise ForgedState("not this browser's authorization")
        session.restart_sign_in(browser_sha256=sha256_hex(browser), state_sha256=sha256_hex(state),
                                now=deps.clock(), rotate_to=_hash(fresh))
        await _save(deps, uow, session)
    return deps.oauth.authorization_url(session.region or "", state)


_ERROR_CODE = re.compile(r"[a-z_]{1,40}")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>]+")
EXACT_WORDS_MAX = 300


def exact_words(text: str | None) -> str:
    """Exact's own ``error_description``, safe to show: no markup or control characters,
    one line, at most EXACT_WORDS_MAX characters (pages escape it again when rendered)."""
    cleaned = " ".join(_UNSAFE.sub(" ", text or "").split())
    return cleaned if len(cleaned) <= EXACT_WORDS_MAX else cleaned[:EXACT_WORDS_MAX - 1] + "…"


def declined_reason(description: str | None) -> str:
    """The reason of an ``error=access_denied`` callback, with Exact's words when it gave any
    (e.g. for an account of another country's Exact Online, EXACT_API.md section 9)."""
    words = exact_words(description)
    said = f" Exact Online said: \u201c{words}\u201d." if words else ""
    return (f"Access was declined at Exact Online, so nothing was connected.{said} If you "
            "declined by mistake, start the authorization again and approve the access. If "
            "your company is on another country's Exact Online (not start.exactonline.nl), it "
            "cannot be connected; otherwise sign in with an administrator account of the "
            "company.")


async def callback(deps: Dependencies, *, state: str | None, code: str | None,
                   error: str | None, browser: str | None,
                   error_description: str | None = None) -> AuthorizationSession:
    """Exact sent the browser back. Forged or replayed states change nothing (ForgedState);
    an unreachable Exact rolls everything back (the browser may restart the sign-in)."""
    if not state:
        raise ForgedState("no state")
    authorization_id = deps.signer.read_state(state)
    async with deps.uow() as uow:
        session = await uow.sessions.get(authorization_id, for_update=True)
        _bind(session)
        if session is None:
            raise ForgedState("no such authorization")
        session.accept_callback(sha256_hex(state), _hash(browser))
        now = deps.clock()
        if error or not code:
            if error == "access_denied":
                session.fail("access_denied", declined_reason(error_description), now)
            else:
                shown = error if error and _ERROR_CODE.fullmatch(error) else "no_code"
                session.fail("exact_error", f"Exact Online ended the sign-in with an error "
                             f"({shown}), so nothing was connected.", now)
            log.info("sign_in_ended_at_exact", authorization_id=str(authorization_id),
                     error=session.failure_code)
            await _save(deps, uow, session)
            return session
        region = session.region or ""
        tokens = await deps.oauth.exchange_code(region, code)
        user = await deps.exact.current_user(region, tokens.access_token)
        candidates = [d for d in (user.current_division,) if d is not None]
        try:
            choices = await deps.exact.divisions(region, tokens.access_token, candidates)
        except ExactRejected as exc:
            if exc.status != 403:
                raise
            # EXACT_API pitfall: access given to some companies, not the one open in Exact.
            raise DivisionsNotReadable(user.current_division) from None
        chosen = session.signed_in(user, choices, tokens, now)
        log.info("signed_in_at_exact", authorization_id=str(authorization_id),
                 divisions=len(choices))
        if chosen is not None:
            await _complete(deps, uow, session, chosen)
        await _save(deps, uow, session)
    return session


async def choose_division(deps: Dependencies, authorization_id: uuid.UUID, code: int,
                          browser: str | None) -> AuthorizationSession:
    async with deps.uow() as uow:
        session = await uow.sessions.get(authorization_id, for_update=True)
        _bind(session)
        if session is None:
            raise ForgedState("no such authorization")
        division = session.choose(code, _hash(browser))
        await _complete(deps, uow, session, division)
        await _save(deps, uow, session)
    return session


async def _complete(deps: Dependencies, uow: UnitOfWork, session: AuthorizationSession,
                    division: DivisionChoice) -> None:
    """Check administrator rights for the division; connect or refuse."""
    user, tokens, region = session.exact_user, session.pending_tokens, session.region or ""
    if user is None or tokens is None:
        raise WrongStep("not signed in")
    now = deps.clock()
    if tokens.remaining(now) <= deps.config.refresh.margin:
        tokens = await deps.oauth.refresh(region, tokens.refresh_token)
        session.pending_tokens = tokens
    try:
        roles, rights = await _administrator_checks(deps, region, tokens.access_token,
                                                    division.code, user.user_id)
    except ExactRejected as exc:
        if exc.status != 401:
            raise
        # the token ran out during the checks (slow answers were retried): renew it once
        tokens = await deps.oauth.refresh(region, tokens.refresh_token)
        session.pending_tokens = tokens
        roles, rights = await _administrator_checks(deps, region, tokens.access_token,
                                                    division.code, user.user_id)
    decision = administrator_decision(roles, deps.config.admin_role_ids, rights)
    if not decision.allowed:
        session.fail("not_administrator", decision.explanation, now, division)
        log.info("sign_in_refused_not_administrator", authorization_id=str(session.authorization_id),
                 division=division.code, has_admin_role=decision.has_admin_role,
                 missing_rights=list(decision.missing_rights))
        return
    grant = Grant(
        grant_id=uuid.uuid4(), authorization_id=session.authorization_id,
        datasource_id=session.datasource_id, correlation_id=session.correlation_id,
        division=division.code, division_name=division.name, exact_user_id=user.user_id,
        exact_user_name=user.user_name, region=region,
        status=GrantStatus.PENDING if session.purpose == "recreate" else GrantStatus.ACTIVE,
        tokens=tokens, created_at=now,
    )
    await uow.grants.add(grant)
    session.connect(grant.grant_id, division, now)
    log.info("exact_authorized", authorization_id=str(session.authorization_id),
             grant_id=str(grant.grant_id), division=division.code, purpose=session.purpose)


async def _administrator_checks(deps: Dependencies, region: str, access_token: str,
                                division: int, user_id: uuid.UUID
                                ) -> tuple[set[int], dict[str, bool]]:
    """The user's role ids in the division and, for an administrator, GET rights per endpoint."""
    roles = await deps.exact.role_ids(region, access_token, division, user_id)
    rights: dict[str, bool] = {}
    if set(roles) & set(deps.config.admin_role_ids):
        answers = await asyncio.gather(*(
            deps.exact.has_rights(region, access_token, division, endpoint)
            for endpoint in deps.config.rights_endpoints
        ))
        rights = dict(zip(deps.config.rights_endpoints, answers, strict=True))
    return roles, rights


async def _save(deps: Dependencies, uow: UnitOfWork, session: AuthorizationSession) -> None:
    await uow.sessions.save(session)
    await publish_events(uow, session, deps.config.internal_base_url)
    await uow.commit()


@dataclass(frozen=True)
class Outcome:
    session: AuthorizationSession
    grant: Grant | None


async def outcome(deps: Dependencies, authorization_id: uuid.UUID, browser: str | None
                  ) -> Outcome:
    """What the browser that ran this authorization may see about it."""
    async with deps.uow() as uow:
        session = await uow.sessions.get(authorization_id)
        _bind(session)
        if session is None or not session.owned_by(_hash(browser)):
            raise ForgedState("not this browser's authorization")
        grant = await uow.grants.get(session.grant_id) if session.grant_id else None
    return Outcome(session, grant)
