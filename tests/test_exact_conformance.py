"""Exact conformance: what ingest asks of Exact and what the sandbox serves both follow one
sourced field table per endpoint (the entity table, ingest.entities), and the sandbox is as strict
as Exact, so a misspelt field fails here instead of at the first customer.

* every ``$select`` ingest sends is a subset of its endpoint's table, and every field of the
  table lands in the contract's row (the row models carry the same names);
* the sandbox serves exactly the table's fields on those endpoints, with matching types;
* ingest's real client reads the first page of every entity from the (strict) sandbox;
* docs/exact-entities.md is the table's current output.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest

import contracts as c
from auth.adapters.exact import DIVISIONS_SELECT, ME_SELECT, ROLES_SELECT
from auth.settings import DEFAULT_RIGHTS_ENDPOINTS
from exact_sandbox import endpoints as sandbox_endpoints
from exact_sandbox import schema as sandbox_schema
from exact_sandbox.app import create_app
from exact_sandbox.client import SandboxAdmin
from exact_sandbox.schema import DIVISIONS, EDM_KINDS, ME, USER_ROLES, Schema
from exact_sandbox.testing import fast_config
from ingest.adapters.exact import DELETED_SELECT, ExactClient
from ingest.domain.budget import BudgetView, RateHeaders
from ingest.entities import DELETED as DELETED_ENDPOINT
from ingest.entities import ENDPOINTS, ENTITIES, Endpoint, EntitySpec
from ingest.entities.docs import markdown
from ingest.ports import EntityRequest, Permit

ROOT = Path(__file__).resolve().parents[1]
SPECS: tuple[EntitySpec, ...] = (*ENTITIES.values(), *(s.reading(True) for s in ENTITIES.values()
                                                       if s.bulk is not None))
SANDBOX_SCHEMAS: dict[str, Schema] = {
    s.name: s for s in vars(sandbox_schema).values() if isinstance(s, Schema)}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.path)
def test_every_selected_field_is_in_the_endpoints_sourced_table(spec: EntitySpec) -> None:
    assert set(spec.select.split(",")) <= set(spec.endpoint.names)
    assert all(spec.endpoint.source_of(f) for f in spec.endpoint.fields)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.path)
def test_the_row_model_carries_exactly_the_tables_fields(spec: EntitySpec) -> None:
    assert set(c.exact_fields(spec.row_model)) - {"Timestamp"} == \
        set(spec.endpoint.names) - {"Timestamp"}
    if spec.mode == "sync":
        assert "Timestamp" in spec.endpoint.names


def test_deletions_select_the_tables_fields() -> None:
    assert DELETED_SELECT.split(",") == list(DELETED_ENDPOINT.names)


@pytest.mark.parametrize("table", ENDPOINTS, ids=lambda t: t.path)
def test_the_sandbox_serves_exactly_the_tables_fields(table: Endpoint) -> None:
    resource = sandbox_endpoints.RESOURCES[table.path]
    schema = SANDBOX_SCHEMAS[resource.entity]
    served = schema.visible(resource.mode == "sync")
    assert served == table.names
    for f in table.fields:
        assert schema.kind(f.name) in EDM_KINDS[f.edm], f.name


@pytest.mark.parametrize("select,schema", [(ME_SELECT, ME), (DIVISIONS_SELECT, DIVISIONS),
                                           (ROLES_SELECT, USER_ROLES)],
                         ids=["current/Me", "system/Divisions", "users/UserRolesPerDivision"])
def test_auths_selects_are_served_by_the_sandbox(select: str, schema: Schema) -> None:
    assert set(select.split(",")) <= set(schema.names)


def test_the_docs_table_is_generated_from_the_code() -> None:
    assert (ROOT / "docs" / "exact-entities.md").read_text() == markdown()


class _Tokens:
    def __init__(self, token: str) -> None:
        self.token = token

    async def access_token(self, grant_id: uuid.UUID) -> str:
        return self.token

    async def rejected(self, grant_id: uuid.UUID, access_token: str) -> None:
        raise AssertionError("the sandbox refused the token")


class _Limiter:
    async def acquire(self, division: int, endpoint: str, reserve: float = 0.0) -> Permit:
        return Permit(division, endpoint, 0)

    async def complete(self, permit: Permit, status: int | None,
                       headers: RateHeaders | None) -> BudgetView:
        return BudgetView(60, None, None, None, 1.0, None)


@pytest.fixture
async def exact() -> AsyncIterator[tuple[ExactClient, SandboxAdmin]]:
    app = create_app(fast_config())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox") as http:
        admin = SandboxAdmin(http=http)
        grant = await admin.grant("anna.admin@demo.nl")
        yield ExactClient(http, _Tokens(grant["access_token"]), _Limiter()), admin


@pytest.mark.parametrize("int64_as_string", [False, True])
async def test_ingest_reads_every_entity_from_the_strict_sandbox(
        exact: tuple[ExactClient, SandboxAdmin], int64_as_string: bool) -> None:
    client, admin = exact
    await admin.model(int64_as_string=int64_as_string)
    for spec in ENTITIES.values():
        request = EntityRequest(100001, uuid.uuid4(), spec.entity)
        async for page in client.pages(request, None):
            assert page.rows and page.dropped == (), spec.entity
            break
    dated = EntityRequest(100001, uuid.uuid4(), c.Entity.TRANSACTION_LINES,
                          date(2024, 1, 1), date(2024, 3, 31))
    async for page in client.pages(dated, None):
        assert page.rows
        break
    async for deletions in client.deletions(100001, uuid.uuid4(), 1, None):
        assert deletions.next_cursor is None or deletions.calls == 1
        break


async def test_a_field_retired_at_the_sandbox_is_dropped_once_and_reported(
        exact: tuple[ExactClient, SandboxAdmin]) -> None:
    client, admin = exact
    await admin.model(retired_fields={"hrm/Costcenters": ["Active"]})
    request = EntityRequest(100001, uuid.uuid4(), c.Entity.COST_CENTERS)
    pages = [p async for p in client.pages(request, None)]
    assert pages and all(p.dropped == ("Active",) for p in pages)
    assert all(r.active is None for p in pages for r in p.rows)  # type: ignore[attr-defined]
    assert any(r.end_date is not None for p in pages for r in p.rows)  # type: ignore[attr-defined]
    stats = await admin.stats()
    assert stats["calls_by_endpoint"]["hrm/Costcenters"] == len(pages) + 1



def test_every_contract_entity_is_declared_once_in_the_entity_table() -> None:
    assert list(ENTITIES) == [s.entity for s in ENTITIES.values()]
    assert set(ENTITIES) == set(c.Entity)


def test_auth_checks_the_rights_on_every_endpoint_ingest_reads_by_default() -> None:
    assert {s.path for s in ENTITIES.values()} == set(DEFAULT_RIGHTS_ENDPOINTS)


def test_each_row_model_names_the_endpoint_its_entity_is_declared_on() -> None:
    assert {e: s.path for e, s in ENTITIES.items()} == \
        {e.value: m.ENDPOINT for e, m in c.ROW_MODELS.items()}
