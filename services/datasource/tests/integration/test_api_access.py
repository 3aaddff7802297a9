"""The read API answers only callers with a token, and a tenant's caller only about its own
company domains."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import contracts as c
from connector_runtime.devstack.testing import api_caller

pytestmark = pytest.mark.integration


async def test_no_token_gets_nothing_and_a_tenant_sees_only_its_own_company_domains(
        start_service: Any) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    token, tenant = api_caller("portal-tenant-a", ("read",), (mine,))
    lister, no_scope = api_caller("metrics-only", ("metrics",))
    # a consumer group of its own: this instance must not take partitions from other modules'
    async with start_service(api_clients=(tenant, no_scope),
                             group_id=f"exact-datasource-api-{uuid.uuid4().hex[:8]}") as svc:
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer not-a-caller"},
                        {"Authorization": "Basic x"}):
            for path in ("/company-domains", "/datasources", f"/datasources/{uuid.uuid4()}",
                         f"/runs/{uuid.uuid4()}"):
                answer = await svc.client.get(path, headers=headers)
                assert answer.status_code == 401, (path, headers)
                assert answer.headers["www-authenticate"] == "Bearer"
        commands = [svc.create_command(new_domain_name="A B.V.", new_domain_id=mine),
                    svc.create_command(new_domain_name="B B.V.", new_domain_id=theirs)]
        for command in commands:
            await svc.send(c.DATASOURCE_COMMANDS, command)
            await svc.one(c.AUTH_REQUESTS, command.datasource_id, c.AuthorizationRequested)
        as_tenant = {"Authorization": f"Bearer {token}"}
        domains = {d["id"] for d in (await svc.client.get("/company-domains",
                                                          headers=as_tenant)).json()}
        assert str(mine) in domains and str(theirs) not in domains
        listed = {d["id"] for d in (await svc.client.get("/datasources", headers=as_tenant)).json()}
        assert str(commands[0].datasource_id) in listed
        assert str(commands[1].datasource_id) not in listed
        other = await svc.client.get(f"/datasources/{commands[1].datasource_id}", headers=as_tenant)
        assert other.status_code == 404
        own = await svc.client.get(f"/datasources/{commands[0].datasource_id}", headers=as_tenant)
        assert own.status_code == 200
        forbidden = await svc.client.get("/datasources",
                                         headers={"Authorization": f"Bearer {lister}"})
        assert forbidden.status_code == 403
