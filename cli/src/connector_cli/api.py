"""The HTTP side the portal backend uses: datasource's read API and auth's link endpoint (and,
for operators, ingest's webhook subscriptions)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from connector_cli.settings import CliSettings


class ServiceError(RuntimeError):
    """A service did not answer (``status`` None) or answered an error ``status``."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


async def _get(url: str, token: str | None = None,
               transport: httpx.AsyncBaseTransport | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=10, transport=transport) as client:
        try:
            response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceError(f"{url} did not answer: {type(exc).__name__}") from exc
    if response.status_code >= 400:
        raise ServiceError(f"{url} answered {response.status_code}: {response.text[:300]}",
                           response.status_code)
    return response.json()


async def _read(settings: CliSettings, path: str) -> Any:
    return await _get(f"{settings.datasource_url}{path}",
                      settings.datasource_api_token.get_secret_value())


async def company_domains(settings: CliSettings) -> Any:
    return await _read(settings, "/company-domains")


async def datasources(settings: CliSettings, company_domain_id: uuid.UUID | None = None) -> Any:
    query = f"?company_domain_id={company_domain_id}" if company_domain_id else ""
    return await _read(settings, f"/datasources{query}")


async def datasource(settings: CliSettings, datasource_id: uuid.UUID) -> Any:
    return await _read(settings, f"/datasources/{datasource_id}")


async def webhooks(settings: CliSettings, datasource_id: uuid.UUID) -> Any:
    """The data source's Exact webhook subscriptions, from ingest's operator API."""
    # the operator's read token: ingest's operator API takes it with the scope ``runs``
    return await _get(f"{settings.ingest_api_url}/datasources/{datasource_id}/webhooks",
                      settings.datasource_api_token.get_secret_value())


async def run(settings: CliSettings, run_id: uuid.UUID,
              transport: httpx.AsyncBaseTransport | None = None) -> dict[str, Any]:
    """One run from ingest's operator API: status, calls used and, until it ends, its plan."""
    # the operator's read token, as for ``webhooks``; ``transport`` lets tests answer
    result: dict[str, Any] = await _get(f"{settings.ingest_api_url}/runs/{run_id}",
                                        settings.datasource_api_token.get_secret_value(),
                                        transport)
    return result


async def authorization_link(settings: CliSettings, fetch_url: str) -> dict[str, Any]:
    """The link for the portal user or the Exact administrator (it holds a secret token).

    ``fetch_url`` comes from a Kafka event: the token goes only to the configured auth."""
    if not fetch_url.startswith(settings.auth_url.rstrip("/") + "/internal/"):
        raise ServiceError(f"the link's fetch_url is not on auth's internal API "
                           f"({settings.auth_url}); not sending the token there")
    result: dict[str, Any] = await _get(fetch_url, settings.internal_api_token.get_secret_value())
    return result


async def datasource_run(settings: CliSettings, run_id: uuid.UUID) -> dict[str, Any]:
    result: dict[str, Any] = await _read(settings, f"/runs/{run_id}")
    return result
