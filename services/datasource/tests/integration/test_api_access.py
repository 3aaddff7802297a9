"""The read API answers only callers with a token, and a tenant's caller only about its own
company domains."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

import contracts as c
from connector_runtime.testing import api_caller

pytestmark = pytest.mark.integration


async def test_no_token_or_a_wrong_one_gets_nothing(service: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-caller"}, {"Authorization": "Basic x"}):
        for path in ("/company-domains", "/datasources", f"/datasources/{uuid.uuid4()}",
                     f"/runs/{uuid.uuid4()}"):
            answer = await service.client.get(path, headers={"Authorization": "", **headers})
            assert answer.status_code == 401, (path, headers)
            assert answer.headers["www-authenticate"] == "Bearer"


async def test_a_tenant_sees_only_its_own_company_domains(start_service: Any) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    token, tenant = api_caller("portal-tenant-a", ("read",), (mine,))
    lister, no_scope = api_caller("metrics-only", ("metrics",))
    async with start_service(api_clients=(tenant, no_scope)) as svc:
        commands = [svc.create_command(new_domain_name="A B.V.", new_domain_id=mine),
                    svc.create_command(new_domain_name="B B.V.", new_domain_id=theirs)]
        for command in commands:
            await svc.send(c.DATASOURCE_COMMANDS, command)
            await svc.one(c.AUTH_REQUESTS, command.datasource_id, c.AuthorizationRequested)
        transport = svc.client._transport
        async with httpx.AsyncClient(transport=transport, base_url="http://datasource",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            domains = {d["id"] for d in (await client.get("/company-domains")).json()}
            assert str(mine) in domains and str(theirs) not in domains
            listed = {d["id"] for d in (await client.get("/datasources")).json()}
            assert str(commands[0].datasource_id) in listed
            assert str(commands[1].datasource_id) not in listed
            assert (await client.get(f"/datasources/{commands[1].datasource_id}")).status_code == 404
            assert (await client.get(f"/datasources/{commands[0].datasource_id}")).status_code == 200
        forbidden = await svc.client.get("/datasources",
                                         headers={"Authorization": f"Bearer {lister}"})
        assert forbidden.status_code == 403
