"""Exact's ``webhooks/WebhookSubscriptions``: list, create, delete (EXACT_API.md section 7).

Each call is an ordinary API call of the company: it waits for the shared rate limiter like
every page does, and its answer (with its ``X-RateLimit-*`` headers) goes back to it. One
attempt per call: the subscription keeper tries again on its next pass, so a failed call
never holds a run's budget. A 401 tells the token source the token was refused.

Fields used: ``ID``, ``CallbackURL``, ``Topic`` (picqer ``WebhookSubscription.php``); the list
answer is ``{"d":{"results":[…]}}`` (maybe with ``__next``: followed), a create ``{"d":{…}}``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from connector_runtime.observability.logs import redact_text
from ingest import metrics
from ingest.adapters.rate_headers import parse_rate_headers
from ingest.domain.budget import RateHeaders
from ingest.domain.errors import (
    ExactError,
    ExactRequestRejected,
    ExactServerError,
    ExactTransportError,
    MalformedResponse,
    RateLimited,
    Unauthorized,
)
from ingest.ports import RateLimiter, TokenSource

ENDPOINT = "webhooks/WebhookSubscriptions"


@dataclass(frozen=True)
class ExactSubscription:
    id: uuid.UUID
    topic: str
    callback_url: str


class ExactWebhooks:
    def __init__(self, http: httpx.AsyncClient, tokens: TokenSource,
                 limiter: RateLimiter) -> None:
        self._http = http
        self._tokens = tokens
        self._limiter = limiter

    async def list(self, division: int, grant_id: uuid.UUID) -> list[ExactSubscription]:
        link: str | None = f"api/v1/{division}/{ENDPOINT}"
        found: list[ExactSubscription] = []
        while link:
            d = _body(await self._call("GET", division, grant_id, link))
            found += [_subscription(raw) for raw in d.get("results", [])]
            link = d.get("__next")
        return found

    async def create(self, division: int, grant_id: uuid.UUID, topic: str,
                     callback_url: str) -> ExactSubscription:
        r = await self._call("POST", division, grant_id, f"api/v1/{division}/{ENDPOINT}",
                             {"CallbackURL": callback_url, "Topic": topic})
        return _subscription(_body(r))

    async def delete(self, division: int, grant_id: uuid.UUID, sub_id: uuid.UUID) -> bool:
        """Remove a subscription; False when Exact no longer had it."""
        try:
            await self._call("DELETE", division, grant_id,
                             f"api/v1/{division}/{ENDPOINT}(guid'{sub_id}')")
        except ExactRequestRejected as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def _call(self, method: str, division: int, grant_id: uuid.UUID, link: str,
                    body: dict[str, str] | None = None) -> httpx.Response:
        permit = await self._limiter.acquire(division, ENDPOINT)
        status: int | None = None
        headers: RateHeaders | None = None
        try:
            token = await self._tokens.access_token(grant_id)
            response = await self._http.request(method, link, json=body, headers={
                "Accept": "application/json", "Authorization": f"Bearer {token}"})
            status, headers = response.status_code, parse_rate_headers(response.headers)
        except (httpx.TransportError, OSError) as exc:
            raise ExactTransportError(f"{ENDPOINT}: {type(exc).__name__}",
                                      endpoint=ENDPOINT) from exc
        finally:
            await self._limiter.complete(permit, status, headers)
            metrics.exact_call(division, status)
        if response.is_success:
            return response
        if status == 401:
            await self._tokens.rejected(grant_id, token)
        raise _error(response)


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        d = response.json()["d"]
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedResponse(f"{ENDPOINT}: not an OData answer", endpoint=ENDPOINT) from exc
    if not isinstance(d, dict):
        raise MalformedResponse(f"{ENDPOINT}: not an OData answer", endpoint=ENDPOINT)
    return d


def _subscription(raw: Any) -> ExactSubscription:
    try:
        return ExactSubscription(uuid.UUID(str(raw["ID"])), str(raw["Topic"]),
                                 str(raw["CallbackURL"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedResponse(f"{ENDPOINT}: unreadable subscription",
                                endpoint=ENDPOINT) from exc


def _error(response: httpx.Response) -> ExactError:
    status = response.status_code
    try:
        message = redact_text(str(response.json()["error"]["message"]["value"]), 200)
    except (ValueError, KeyError, TypeError):
        message = response.reason_phrase
    text = f"{ENDPOINT}: HTTP {status}: {message}"
    if status == 401:
        return Unauthorized(text, endpoint=ENDPOINT, status=status)
    if status == 429:
        return RateLimited(text, endpoint=ENDPOINT)
    if status >= 500:
        return ExactServerError(text, endpoint=ENDPOINT, status=status)
    return ExactRequestRejected(text, endpoint=ENDPOINT, status=status)
