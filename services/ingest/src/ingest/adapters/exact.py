"""The Exact Online API client: an entity's pages, typed, within the company's rate limits.

:meth:`ExactClient.pages` hides everything OData: ``$select``/``$filter``, ``__next`` links
and their ``$skiptoken``, ``X-RateLimit-*`` headers (every answer goes to the shared
limiter), ``/Date(ms)/`` values and error bodies. Each page is asked until it arrives:

* 5xx, timeouts, dropped connections and broken JSON are retried with exponential backoff
  (bounded; then :class:`PageFailed` - a page is never skipped); a first attempt waits
  for its answer about as long as the endpoint usually needs, a retry the full timeout
  (:mod:`ingest.adapters.timeouts`);
* a 401 is first taken for one of Exact's short 401 bursts: while the token is not near its
  expiry the page is asked again with the same token after a few seconds, at most twice
  (401s count toward Exact's error budget, so never more). Only a 401 that persists makes
  the token source drop the token and tell auth, and the page is asked again once with a
  fresh token (a 401 after that counts as a failed attempt);
* a 429 (which the limiter should prevent) waits for the reset the headers give;
* 400/403/404 are not retried: :class:`ExactRequestRejected` / :class:`Forbidden`; except
  Exact's 400 "Could not find a property named 'X'" for a selected field (Exact retires
  fields): X is dropped from the endpoint's ``$select`` for as long as this client lives, the
  page is asked again at once, and every later page says X was dropped (its value is null).
  A field the import cannot do without (ids, keys, amounts, cursor) fails the entity:
  :class:`RequiredFieldUnknown`.

Cursors are links relative to the base URL, so a token never goes to another host and a
checkpoint survives a change of base URL.

Size: each answer case above is handled here because they share one retry loop per page and
its state (token, attempt, dropped fields); OData values, timeouts, the rate limiter and the
token source are already their own modules.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import structlog

from connector_runtime.observability.logs import redact_text
from contracts import Entity, Row, id_hash_sum
from ingest import metrics
from ingest.adapters.endpoints import endpoint_for, first_page_params
from ingest.adapters.odata import parse_page, row_reader
from ingest.adapters.rate_headers import parse_rate_headers
from ingest.adapters.timeouts import CallTimeouts
from ingest.domain.budget import BudgetView, RateHeaders
from ingest.domain.errors import (
    ExactError,
    ExactRequestRejected,
    ExactServerError,
    ExactTransportError,
    Forbidden,
    MalformedResponse,
    PageFailed,
    RateLimited,
    RequiredFieldUnknown,
    Unauthorized,
)
from ingest.domain.model import ID_HASH_MODULUS, PageStats
from ingest.entities import DELETED, DELETED_TYPES, EntitySpec
from ingest.ports import DeletionPage, EntityRequest, Page, RateLimiter, TokenSource

DELETED_PATH = DELETED.path
DELETED_SELECT = DELETED.select

log = structlog.get_logger("exact")

_UNKNOWN_PROPERTY = re.compile(r"Could not find a property named '([^']+)'")
"""Exact's 400 for a field the entity lacks (EXACT_API.md section 8, picqer Budget.php)."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    """Failed attempts (5xx, timeout, broken JSON, repeated 401) before a page fails: with
    the backoff below, about 25 s of waiting in all, so an outage of that long is ridden
    out, while a single fault costs a fifth of a second."""
    backoff_base: float = 0.2
    backoff_max: float = 30.0
    max_rate_limited: int = 20
    """429 answers in a row before giving up (each one is waited out first)."""
    same_token_retries: int = 2
    """401s retried with the same token before it is reported refused (Exact answers short
    bursts of 401 around token expiry and under load: EXACT_API.md, PipedreamHQ/pipedream
    #1655; each 401 counts toward the error budget of 10 per endpoint and hour)."""
    same_token_delays: tuple[float, ...] = (2.0, 4.0)
    """Wait before each same-token retry of a 401."""

    def backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return float(delay * (0.5 + random.random() / 2))


@dataclass
class _Answer:
    results: list[Any]
    next_link: str | None
    calls: int
    budget: BudgetView | None


class ExactClient:
    def __init__(self, http: httpx.AsyncClient, tokens: TokenSource, limiter: RateLimiter, *,
                 retry: RetryPolicy | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 timeouts: CallTimeouts | None = None) -> None:
        self._http = http
        self._tokens = tokens
        self._limiter = limiter
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._unknown: dict[str, set[str]] = {}
        """Endpoint -> selected fields Exact answered it does not know."""
        self._timeouts = timeouts

    def page_size(self, entity: Entity) -> int:
        return endpoint_for(entity, None, None).page_size

    def endpoint_path(self, entity: Entity, date_from: date | None, date_to: date | None
                      ) -> str:
        return endpoint_for(entity, date_from, date_to).path

    async def pages(self, request: EntityRequest, cursor: str | None
                    ) -> AsyncGenerator[Page, None]:
        """Typed pages of one entity from ``cursor`` (None: the first page) to the end."""
        spec = endpoint_for(request.entity, request.date_from, request.date_to)
        link: str = cursor or f"api/v1/{request.division}/{spec.path}"
        params: dict[str, str] | None = None
        if cursor is None:
            params = first_page_params(spec, request.division, request.date_from, request.date_to,
                                       since=request.since, periods=request.periods,
                                       year=request.year)
        reader = row_reader(spec.row_model, spec.division_may_be_empty)

        def decode(body: bytes) -> tuple[list[dict[str, Any]], str | None]:
            return reader.page(body, spec.path)

        while True:
            answer = await self._fetch(request, spec.path, link, params, decode, spec)
            rows = reader.rows(_lines(spec, answer.results, request.division))
            next_cursor = self._relative(answer.next_link, spec.path) if answer.next_link else None
            yield Page(rows=rows, stats=_stats(spec, rows, next_cursor), calls=answer.calls,
                       budget=answer.budget,
                       dropped=tuple(sorted(self._unknown.get(spec.path, ()))))
            if next_cursor is None:
                return
            link, params = next_cursor, None

    def _relative(self, link: str, endpoint: str) -> str:
        """``__next`` as a link relative to our base URL (never follow it to another host)."""
        url = httpx.URL(link)
        base = self._http.base_url
        raw = url.raw_path.decode("ascii")
        base_path = base.raw_path.decode("ascii")
        if url.is_absolute_url and url.host != base.host:
            log.warning("exact_next_link_foreign_host", endpoint=endpoint, host=url.host)
        if raw.startswith(base_path):
            raw = raw[len(base_path):]
        if not raw.lstrip("/").startswith("api/v1/"):
            raise MalformedResponse(f"{endpoint}: unexpected __next link", endpoint=endpoint)
        return raw.lstrip("/")

    async def deletions(self, division: int, grant_id: uuid.UUID, since: int,
                        cursor: str | None) -> AsyncGenerator[DeletionPage, None]:
        """Pages of ``sync/Deleted`` after Timestamp ``since`` (or from ``cursor``)."""
        request = EntityRequest(division, grant_id, Entity.TRANSACTION_LINES)
        link: str = cursor or f"api/v1/{division}/{DELETED_PATH}"
        params: dict[str, str] | None = None if cursor else {
            "$select": DELETED_SELECT, "$filter": f"Timestamp gt {since}L"}
        while True:
            answer = await self._fetch(request, DELETED_PATH, link, params,
                                       lambda body: parse_page(body, DELETED_PATH))
            next_cursor = self._relative(answer.next_link, DELETED_PATH) if answer.next_link \
                else None
            yield DeletionPage(deleted=_deleted(answer.results, division), calls=answer.calls,
                               max_timestamp=max((int(r["Timestamp"]) for r in answer.results),
                                                 default=None),
                               next_cursor=next_cursor, budget=answer.budget)
            if next_cursor is None:
                return
            link, params = next_cursor, None

    async def _fetch(self, request: EntityRequest, endpoint: str, link: str,
                     params: dict[str, str] | None,
                     decode: Callable[[bytes], tuple[list[Any], str | None]],
                     spec: EntitySpec | None = None) -> _Answer:
        """One page, asked until it arrives; ``decode`` turns its body into rows and its
        ``__next`` link (a MalformedResponse from it is retried like broken JSON, InvalidData
        is not)."""
        attempts = limited = calls = unauthorized = 0
        reasked = False
        if self._unknown.get(endpoint):
            link, params = _without(link, params, self._unknown[endpoint])
        while True:
            permit = await self._limiter.acquire(request.division, endpoint, request.reserve)
            try:
                token = await self._tokens.access_token(request.grant_id)
            except BaseException:
                await self._limiter.complete(permit, None, None)
                raise
            status: int | None = None
            headers: RateHeaders | None = None
            error: ExactError | None = None
            response: httpx.Response | None = None
            sent = time.monotonic()
            try:
                response = await self._http.get(link, params=params, headers={
                    "Accept": "application/json", "Authorization": f"Bearer {token}"},
                    timeout=self._timeout(endpoint, attempts + 1))
                status, headers = response.status_code, parse_rate_headers(response.headers)
            except httpx.TimeoutException as exc:
                error = ExactTransportError(f"{endpoint}: no answer in time ({type(exc).__name__})",
                                            endpoint=endpoint)
            except (httpx.TransportError, OSError) as exc:
                error = ExactTransportError(f"{endpoint}: connection failed ({type(exc).__name__})",
                                            endpoint=endpoint)
            finally:
                budget = await self._limiter.complete(permit, status, headers)
            calls += 1
            metrics.exact_call(request.division, status)
            metrics.budget_seen(request.division, budget)
            if response is not None:
                if status == 200:
                    try:
                        results, next_link = decode(response.content)
                        if self._timeouts is not None:
                            self._timeouts.observe(endpoint, time.monotonic() - sent)
                        return _Answer(results, next_link, calls, budget)
                    except MalformedResponse as exc:
                        error = exc
                else:
                    error = _error_for(response, endpoint)
            if isinstance(error, Unauthorized) and not reasked:
                if await self._same_token_again(request, endpoint, token, unauthorized):
                    unauthorized += 1
                    continue
                reasked = True
                log.info("exact_token_refused", endpoint=endpoint, division=request.division,
                         unauthorized_in_a_row=unauthorized + 1)
                await self._tokens.rejected(request.grant_id, token)
                continue
            if isinstance(error, RateLimited):
                limited += 1
                metrics.rate_limited(request.division, error.limit)
                log.warning("exact_rate_limited", endpoint=endpoint, division=request.division,
                            limit=error.limit, in_a_row=limited)
                if limited >= self._retry.max_rate_limited:
                    raise error
                continue  # the limiter now knows the window is spent and waits for its reset
            unknown = _unknown_field(error, link, params)
            if unknown is not None and spec is not None and error is not None:
                self._drop(spec, unknown, error)
                link, params = _without(link, params, {unknown})
                continue
            if isinstance(error, ExactRequestRejected | Forbidden):
                raise error
            if error is None:  # not reachable: every path without an answer sets an error
                raise ExactTransportError(f"{endpoint}: no answer", endpoint=endpoint)
            attempts += 1
            if attempts >= self._retry.max_attempts:
                raise PageFailed(f"{endpoint}: page failed {attempts} times, last: {error}",
                                 endpoint=endpoint, last=error, attempts=attempts)
            delay = self._retry.backoff(attempts)
            log.warning("exact_page_retry", endpoint=endpoint, division=request.division,
                        error=type(error).__name__, status=error.status, attempt=attempts,
                        retry_in=round(delay, 2))
            await self._sleep(delay)

    def _timeout(self, endpoint: str, attempt: int) -> httpx.Timeout:
        if self._timeouts is None:
            return self._http.timeout
        return httpx.Timeout(self._timeouts.for_attempt(endpoint, attempt))

    async def _same_token_again(self, request: EntityRequest, endpoint: str, token: str,
                                retried: int) -> bool:
        """After a 401: wait and ask with the same token (True), or report it refused.

        A token near its expiry is reported at once: a refresh is allowed then, and the
        401 most likely means the token ran out."""
        if retried >= self._retry.same_token_retries or self._tokens.near_expiry(
                request.grant_id, token):
            return False
        delays = self._retry.same_token_delays or (2.0,)
        delay = delays[min(retried, len(delays) - 1)]
        log.info("exact_unauthorized_retry_same_token", endpoint=endpoint,
                 division=request.division, attempt=retried + 1, retry_in=delay)
        await self._sleep(delay)
        return True


    def _drop(self, spec: EntitySpec, field: str, error: ExactError) -> None:
        if field in spec.required:
            raise RequiredFieldUnknown(f"{spec.path}: Exact no longer knows the field {field}, "
                                       "which the import needs", endpoint=spec.path,
                                       status=error.status) from error
        self._unknown.setdefault(spec.path, set()).add(field)
        metrics.FIELDS_DROPPED.labels(spec.entity.value, field).inc()
        log.warning("exact_field_dropped", endpoint=spec.path, field=field,
                    detail="Exact does not know the field; read without it (null in the rows)")


def _lines(spec: EntitySpec, results: list[dict[str, Any]], division: int
           ) -> list[dict[str, Any]]:
    """The rows' values (by contract name) as the contract has them: entry header rows left
    out (sync TransactionLines, ``LineNumber`` 0) and an empty ``Division`` (Exact's general
    taxonomies) filled with the division the page was read from."""
    if spec.header_rows:
        results = [r for r in results if r.get("line_number") != 0]
    if spec.division_may_be_empty:
        for values in results:
            if values.get("division") is None:
                values["division"] = division
    return results


def _unknown_field(error: ExactError | None, link: str, params: dict[str, str] | None
                   ) -> str | None:
    """The selected field an Exact 400 says the entity does not have, if that is the error."""
    if not isinstance(error, ExactRequestRejected) or error.status != 400:
        return None
    match = _UNKNOWN_PROPERTY.search(str(error))
    if match is None:
        return None
    return match.group(1) if match.group(1) in _selected(link, params) else None


def _selected(link: str, params: dict[str, str] | None) -> list[str]:
    raw = params.get("$select") if params else httpx.URL(link).params.get("$select")
    return [f for f in (raw or "").split(",") if f]


def _without(link: str, params: dict[str, str] | None, fields: set[str]
             ) -> tuple[str, dict[str, str] | None]:
    """The request (first-page params, or a ``__next`` link) with ``fields`` left out of
    ``$select``."""
    kept = ",".join(f for f in _selected(link, params) if f not in fields)
    if params is not None:
        return link, {**params, "$select": kept} if "$select" in params else params
    url = httpx.URL(link)
    if "$select" not in url.params:
        return link, None
    return str(url.copy_set_param("$select", kept)), None


def _message(response: httpx.Response) -> str:
    try:
        value: object = response.json()["error"]["message"]["value"]
    except (ValueError, KeyError, TypeError):
        value = response.reason_phrase
    return redact_text(str(value), 200)


def _error_for(response: httpx.Response, endpoint: str) -> ExactError:
    status = response.status_code
    text = f"{endpoint}: HTTP {status}: {_message(response)}"
    if status == 401:
        return Unauthorized(text, endpoint=endpoint, status=status)
    if status == 403:
        return Forbidden(text, endpoint=endpoint, reason=response.headers.get("Reason"))
    if status == 429:
        limit = "daily" if "X-RateLimit-Remaining" in response.headers and \
            "X-RateLimit-Minutely-Remaining" not in response.headers else "minutely"
        return RateLimited(text, endpoint=endpoint, limit=limit)
    if status >= 500:
        return ExactServerError(text, endpoint=endpoint, status=status)
    return ExactRequestRejected(text, endpoint=endpoint, status=status)


def _deleted(results: list[dict[str, Any]], division: int) -> list[tuple[str, str]]:
    """(entity, row id) of the deletions of imported entities; other EntityTypes are skipped."""
    out: list[tuple[str, str]] = []
    for raw in results:
        try:
            spec = DELETED_TYPES.get(int(raw["EntityType"]))
            key = str(uuid.UUID(str(raw["EntityKey"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedResponse(f"{DELETED_PATH}: unreadable deletion record",
                                    endpoint=DELETED_PATH) from exc
        if spec is not None:
            out.append((spec.entity, key))
    return out


def _stats(spec: EntitySpec, rows: list[Row], next_cursor: str | None) -> PageStats:
    fields = _field_names(spec.row_model)
    id_name = fields[spec.id_field]
    id_sum = id_hash_sum([getattr(r, id_name) for r in rows]) % ID_HASH_MODULUS
    amount: Decimal | None = None
    debit: Decimal | None = None
    if spec.amount_field:
        name = fields[spec.amount_field]
        zero = Decimal(0)
        values = [getattr(r, name) or zero for r in rows]
        amount = sum(values, zero)
        debit = sum([v for v in values if v > 0], zero)
    max_ts: int | None = None
    if "Timestamp" in fields:
        stamps = [s for s in [getattr(r, "timestamp", None) for r in rows] if s is not None]
        max_ts = max(stamps, default=None)
    count: int | None = None
    if spec.count_field:
        name = fields[spec.count_field]
        count = sum([getattr(r, name) or 0 for r in rows])
    year_rows: dict[int, int] = {}
    if spec.year_field:  # FinancialPeriods' years are the years ReportingBalance is read by
        name = fields[spec.year_field]
        for year in [getattr(r, name) for r in rows]:
            if year is not None:
                year_rows[int(year)] = year_rows.get(int(year), 0) + 1
    return PageStats(rows=len(rows), amount_sum=amount, debit_sum=debit, id_hash_sum=id_sum,
                     max_timestamp=max_ts, count_sum=count, next_cursor=next_cursor,
                     year_rows=year_rows)


_FIELD_NAMES: dict[type[Row], dict[str, str]] = {}


def _field_names(model: type[Row]) -> dict[str, str]:
    """Exact field name -> contract attribute name (read, never changed: kept per model)."""
    names = _FIELD_NAMES.get(model)
    if names is None:
        names = _FIELD_NAMES[model] = {str(info.validation_alias or name): name
                                       for name, info in model.model_fields.items()}
    return names
