"""Exact Online over HTTP: OAuth with Authlib's httpx client, and the REST calls sign-in needs.

Library errors become ours (``auth.domain.errors``): timeouts, connection errors, 5xx and
429 are ExactUnavailable; a refresh token Exact refuses for good is ExactRefused; the 570 s
rule is ExactTooEarly; other 4xx are ExactRejected. No token, code or secret is put into an
exception message.

Sign-in calls are retried on transient faults within the request (:mod:`auth.adapters.retry`):
every GET, and the code exchange as :meth:`ExactClient.exchange_code` explains. Refreshes
are not retried here: ingest asks again, and a refresh token is single-use.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from auth.adapters.retry import (
    NO_RETRY,
    RateLimitedFor,
    RetryPolicy,
    Sleep,
    retried,
    seconds_to_reset,
)
from auth.domain.errors import (
    CodeAnswerLost,
    ExactRefused,
    ExactRejected,
    ExactTooEarly,
    ExactUnavailable,
)
from auth.domain.exact import DivisionChoice, ExactUser
from auth.domain.tokens import TokenSet
from auth.ports import Clock
from connector_runtime.observability.logs import redact_text

AUTHORIZE_PATH = "/api/oauth2/auth"
TOKEN_PATH = "/api/oauth2/token"
JSON = {"Accept": "application/json"}
MAX_PAGES = 50

REFUSED_REFRESH_ERRORS = frozenset({"invalid_grant", "unauthorized_client", "invalid_request"})


def _check_token_response(response: httpx.Response) -> httpx.Response:
    """Authlib compliance hook: sort out what the token endpoint said before parsing."""
    if response.headers.get("reason", "").lower() == "tooearlytorefreshtokens":
        raise ExactTooEarly("Exact's 570 s rule: the access token is not expired yet")
    if response.status_code == 429:
        raise ExactUnavailable("the token endpoint rate limit is reached")
    if response.status_code >= 500:
        raise ExactUnavailable(f"the token endpoint answered {response.status_code}")
    return response


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.netloc or "").lower()


def _describe(exc: OAuthError) -> str:
    description = (exc.description or "").strip()
    return redact_text(f"{exc.error}: {description}", 300) if description else str(exc.error)


# Fields auth reads, with Exact's spelling (case-sensitive) and where each name comes from:
# current/Me: Pi-Systems/exact-online src/Entity/System/Me.php, picqer Me.php;
# system/Divisions: Pi-Systems src/Entity/System/Divisions.php, picqer SystemDivision.php;
# users/UserRolesPerDivision: Pi-Systems src/Entity/Users/UserRolesPerDivision.php, picqer
# UserRolesPerDivision.php. tests/test_exact_conformance.py checks the sandbox serves them.
ME_SELECT = "UserID,UserName,FullName,CurrentDivision"
DIVISIONS_SELECT = "Code,Description,VATNumber"
"""``VATNumber``: system/Divisions (EXACT_API.md section 2); an expected company may be named by it."""
ROLES_SELECT = "UserID,Role,Division,EndDate"
"""``EndDate``: a role is active until then (Pi-Systems UserRolesPerDivision.php: "StartDate,
EndDate"); a role that has ended does not make an administrator."""

class ExactClient:
    """Implements the ExactOAuth and ExactApi ports for one registered app."""

    def __init__(self, *, client_id: str, client_secret: str, redirect_uri: str,
                 base_urls: Mapping[str, str], clock: Clock, timeout: float = 20.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 retry: RetryPolicy = NO_RETRY, sleep: Sleep = asyncio.sleep) -> None:
        self._base_urls = dict(base_urls)
        self._clock = clock
        self._retry = retry
        self._sleep = sleep
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, headers=JSON)
        self._oauth = AsyncOAuth2Client(
            client_id=client_id, client_secret=client_secret, redirect_uri=redirect_uri,
            token_endpoint_auth_method="client_secret_post",
            timeout=timeout, transport=transport,
        )
        self._oauth.register_compliance_hook("access_token_response", _check_token_response)
        self._oauth.register_compliance_hook("refresh_token_response", _check_token_response)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._oauth.aclose()

    def _base(self, region: str) -> str:
        base = self._base_urls.get(region)
        if base is None:
            raise ExactRejected(f"no Exact Online instance configured for region {region!r}")
        return base

    # ---- OAuth ---------------------------------------------------------------------------

    def authorization_url(self, region: str, state: str) -> str:
        # No PKCE: Exact's OAuth reference documents only client_id, redirect_uri,
        # response_type, state (and force_login) for /api/oauth2/auth and no code_verifier
        # for /api/oauth2/token (EXACT_API.md section 2); no public client of Exact's API sends
        # code_challenge. The client secret is posted server to server, the state is bound to
        # the browser (CSRF), and the redirect URI must match the registered one exactly.
        url, _state = self._oauth.create_authorization_url(
            self._base(region) + AUTHORIZE_PATH, state=state)
        return str(url)

    def _token_set(self, token: Mapping[str, Any]) -> TokenSet:
        try:
            access, refresh = str(token["access_token"]), str(token["refresh_token"])
            expires_in = int(token.get("expires_in") or 600)  # Exact sends a string
        except (KeyError, TypeError, ValueError):
            raise ExactUnavailable("the token endpoint answered without usable tokens") from None
        return TokenSet.issued(access, refresh, expires_in, self._clock())

    async def exchange_code(self, region: str, code: str) -> TokenSet:
        """Tokens for an authorization code, retried on transient faults.

        The code is single-use (EXACT_API.md section 2: reuse answers 400). A retry is
        never worse than giving up, so every transient fault is retried, but they differ:

        * not connected, or a 5xx/429 answer: Exact did nothing with the code (a 5xx of
          the token endpoint comes before the code is looked at, as gateways and the
          sandbox answer), so the retry is an ordinary one;
        * no answer in time, a dropped connection or an unreadable answer: Exact may have
          used the code and its tokens are lost with the answer. The retry then either
          works or is refused as a used code: :class:`CodeAnswerLost` lets the page say
          exactly that and offer a new sign-in (RFC 6749 section 4.1.2 also lets a server
          revoke tokens of a code used twice; none of them reached us anyway).
        """
        maybe_used = False
        attempt = 1
        while True:
            try:
                token = await self._oauth.fetch_token(
                    self._base(region) + TOKEN_PATH, code=code, grant_type="authorization_code")
                return self._token_set(token)
            except OAuthError as exc:
                if maybe_used:
                    raise CodeAnswerLost(f"the code was refused after an answer was lost "
                                         f"({_describe(exc)})") from None
                raise ExactRejected(f"the authorization code was refused ({_describe(exc)})"
                                    ) from None
            except ExactUnavailable as exc:  # 5xx or 429 answer, or tokens missing
                failure = str(exc)
                maybe_used = maybe_used or "usable tokens" in failure
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = f"the token endpoint could not be reached: {type(exc).__name__}"
            except (httpx.HTTPError, ValueError) as exc:
                failure = f"the token endpoint failed: {type(exc).__name__}"
                maybe_used = True
            if attempt >= self._retry.attempts:
                raise ExactUnavailable(failure)
            await self._sleep(self._retry.delay(attempt))
            attempt += 1

    async def refresh(self, region: str, refresh_token: str) -> TokenSet:
        try:
            token = await self._oauth.refresh_token(
                self._base(region) + TOKEN_PATH, refresh_token=refresh_token)
        except OAuthError as exc:
            if exc.error == "access_denied" and "not expired" in (exc.description or ""):
                raise ExactTooEarly("Exact's 570 s rule: the access token is not expired yet") from None
            if exc.error in REFUSED_REFRESH_ERRORS:
                raise ExactRefused(_describe(exc)) from None
            raise ExactUnavailable(f"the token endpoint refused: {_describe(exc)}") from None
        except (httpx.HTTPError, ValueError) as exc:
            raise ExactUnavailable(f"the token endpoint failed: {type(exc).__name__}") from None
        return self._token_set(token)

    # ---- REST ----------------------------------------------------------------------------

    async def _get(self, region: str, access_token: str, path: str,
                   params: Mapping[str, str] | None = None) -> Any:
        return await retried(lambda: self._get_once(region, access_token, path, params),
                             path.split("?")[0].rsplit("/", 2)[-1], self._retry, self._sleep)

    async def _get_once(self, region: str, access_token: str, path: str,
                        params: Mapping[str, str] | None = None) -> Any:
        base = self._base(region)
        url = urljoin(base + "/", path)
        if _origin(url) != _origin(base):
            # an absolute __next (or any link Exact hands us) to another host: the bearer
            # token goes only to the configured Exact base
            raise ExactUnavailable(f"Exact Online sent a link to another host "
                                   f"({_origin(url)}); not followed")
        try:
            response = await self._http.get(
                url, params=params, headers={"Authorization": f"Bearer {access_token}"})
        except httpx.HTTPError as exc:
            raise ExactUnavailable(f"Exact Online did not answer: {type(exc).__name__}") from None
        if response.status_code == 429:
            raise RateLimitedFor(f"Exact Online answered 429 on {path.split('?')[0]}",
                                 seconds_to_reset(response.headers, self._clock()))
        if response.status_code >= 500:
            raise ExactUnavailable(f"Exact Online answered {response.status_code}")
        if response.status_code >= 400:
            raise ExactRejected(f"Exact Online answered {response.status_code} on {path.split('?')[0]}",
                                response.status_code, response.headers.get("reason"))
        try:
            return response.json()["d"]
        except (ValueError, KeyError, TypeError):
            raise ExactUnavailable("Exact Online answered with unreadable JSON") from None

    async def _rows(self, region: str, access_token: str, path: str,
                    params: Mapping[str, str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        body = await self._get(region, access_token, path, params)
        for _ in range(MAX_PAGES):
            if isinstance(body, list):
                rows.extend(body)
                break
            rows.extend(body.get("results", []))
            next_url = body.get("__next")
            if not next_url:
                break
            body = await self._get(region, access_token, next_url)
        return rows

    async def current_user(self, region: str, access_token: str) -> ExactUser:
        rows = await self._rows(region, access_token, "api/v1/current/Me",
                                {"$select": ME_SELECT})
        if not rows:
            raise ExactUnavailable("Exact Online returned no current user")
        me = rows[0]
        current = me.get("CurrentDivision")
        return ExactUser(uuid.UUID(str(me["UserID"])), str(me.get("UserName") or ""),
                         str(me.get("FullName") or ""), int(current) if current else None)

    async def divisions(self, region: str, access_token: str, candidates: Sequence[int]
                        ) -> tuple[DivisionChoice, ...]:
        last: ExactRejected | None = None
        for via in candidates:
            try:
                rows = await self._rows(region, access_token, f"api/v1/{via}/system/Divisions",
                                        {"$select": DIVISIONS_SELECT})
            except ExactRejected as exc:
                if exc.status != 403:
                    raise
                last = exc
                continue
            # VATNumber: system/Divisions field (EXACT_API.md section 2; picqer Division.php).
            return tuple(sorted((DivisionChoice(int(r["Code"]), str(r.get("Description") or ""),
                                                r.get("VATNumber") or None)
                                 for r in rows), key=lambda d: d.code))
        if last is not None:
            raise last
        return ()

    async def role_ids(self, region: str, access_token: str, division: int,
                       user_id: uuid.UUID) -> set[int]:
        rows = await self._rows(
            region, access_token, f"api/v1/{division}/users/UserRolesPerDivision",
            {"$filter": f"UserID eq guid'{user_id}'", "$select": ROLES_SELECT})
        now_ms = self._clock().timestamp() * 1000
        return {int(r["Role"]) for r in rows
                if str(r.get("UserID", user_id)).lower() == str(user_id)
                and int(r.get("Division") or division) == division
                and not _ended(r.get("EndDate"), now_ms)}

    async def has_rights(self, region: str, access_token: str, division: int,
                         endpoint: str) -> bool:
        body = await self._get(region, access_token,
                               f"api/v1/{division}/users/UserHasRights",
                               {"endpoint": f"'{endpoint}'", "action": "'GET'"})
        if isinstance(body, dict) and "results" in body:
            body = (body["results"] or [{}])[0]
        value = body.get("UserHasRights") if isinstance(body, dict) else None
        return value is True or str(value).lower() == "true"


def _ended(end: object, now_ms: float) -> bool:
    """A ``/Date(ms)/`` end date that has passed (no end date: the role goes on)."""
    if not isinstance(end, str) or not end.startswith("/Date("):
        return False
    try:
        return int(end[6:].split(")")[0].split("+")[0].split("-")[0] or 0) <= now_ms
    except ValueError:
        return False
