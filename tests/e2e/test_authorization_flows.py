"""The seed, end to end: both authorization ways, administrators only, the Netherlands instance
only, the automatic initial run, and recreate bound to the same company (division)."""

import io
import uuid

import httpx
import pytest
from rich.console import Console

from connector_cli import api
from connector_cli.kafka_io import watch
from connector_cli.settings import CliSettings
from connector_demo.authorize import complete_authorization
from connector_demo.browser import Browser
from connector_demo.flows import create_command, expect, recreate_command, send_for_link
from connector_demo.scenario import run_scenario
from connector_demo.system import LocalSystem
from connector_runtime.devstack.testing import eventually
from contracts import (
    AUTH_EVENTS,
    DATASOURCE_EVENTS,
    INGEST_REQUESTS,
    RUN_EVENTS,
    AuthorizationFailed,
    DataSourceConnected,
    InitialRunRequested,
    RecreateAccepted,
    RecreateRejected,
    RunCompleted,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TOPICS = [AUTH_EVENTS, DATASOURCE_EVENTS, INGEST_REQUESTS, RUN_EVENTS]


async def authorize(link: str, user: str, password: str, **kwargs: object) -> str:
    browser = Browser()
    try:
        outcome = await complete_authorization(browser, link, user, password, **kwargs)  # type: ignore[arg-type]
    finally:
        await browser.close()
    return outcome.text


async def access_token_status(system: LocalSystem, grant_id: object) -> int:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(
            f"{system.internal_url('auth')}/internal/grants/{grant_id}/access-token",
            headers=system.bearer("ingest"))
    return response.status_code


async def _status_is(system: LocalSystem, grant_id: object, status: int) -> bool:
    return await access_token_status(system, grant_id) == status


async def test_the_demo_scenario_runs_at_small_size(system: LocalSystem) -> None:
    """Do it myself, initial run, reconciliation, recreate same (accepted) and other (rejected)."""
    out = io.StringIO()
    result = await run_scenario(system, Console(file=out, width=200))
    assert result.ok, result.reason + "\n" + out.getvalue()[-4000:]
    assert result.rows > 3000
    # the run's calls as the sandbox answered them, and ingest's own count, agree
    assert result.calls == result.calls_by_ingest > 0 and result.responses_429 == 0


async def test_share_link_create_and_recreate(system: LocalSystem, cfg: CliSettings) -> None:
    create = create_command("share", new_domain=f"Bakkerij {uuid.uuid4().hex[:6]}")
    async with watch(cfg.kafka_bootstrap_servers, TOPICS, create.datasource_id) as events:
        link = await send_for_link(cfg, events, create)
        await authorize(link, "anna.admin@demo.nl", "demo-anna")
        connected = await expect(events, DataSourceConnected)
        run = await expect(events, RunCompleted, timeout=180)
        assert connected.payload.division == 100001 and run.payload.totals
        # Anna lost access; Bram, another administrator, completes a shared recreate link.
        link = await send_for_link(cfg, events, recreate_command(create.datasource_id, "share"))
        await authorize(link, "bram.admin@demo.nl", "demo-bram")
        accepted = await expect(events, RecreateAccepted)
    assert accepted.payload.division == 100001
    detail = await api.datasource(cfg, create.datasource_id)
    assert detail["state"] == "connected" and detail["grant_id"] == str(accepted.payload.grant_id)


async def test_self_service_then_recreate_same_division_accepted_other_division_rejected(
    system: LocalSystem, cfg: CliSettings
) -> None:
    create = create_command("self", new_domain=f"Van Dijk Groep {uuid.uuid4().hex[:6]}")
    ds = create.datasource_id
    async with watch(cfg.kafka_bootstrap_servers, TOPICS, ds) as events:
        link = await send_for_link(cfg, events, create)
        page = await authorize(link, "dirk.multi@demo.nl", "demo-dirk", division=200001)
        connected = await expect(events, DataSourceConnected)
        assert connected.payload.division == 200001, page
        requested = await expect(events, InitialRunRequested)  # started automatically
        await expect(events, RunCompleted, timeout=180,
                     where=lambda m: m.payload.run_id == requested.payload.run_id)

        # The person who approved lost access: recreate by sharing a link; same company.
        link = await send_for_link(cfg, events, recreate_command(ds, "share"))
        await authorize(link, "dirk.multi@demo.nl", "demo-dirk", division=200001)
        accepted = await expect(events, RecreateAccepted)
        assert accepted.payload.previous_grant_id == connected.payload.grant_id
        # auth retires the replaced grant when it reads the decision
        await eventually(lambda: _status_is(system, connected.payload.grant_id, 410))

        # A reconnection to another company is rejected; the data source stays as it was.
        before = await api.datasource(cfg, ds)
        link = await send_for_link(cfg, events, recreate_command(ds, "self"))
        await authorize(link, "dirk.multi@demo.nl", "demo-dirk", division=200002)
        rejected = await expect(events, RecreateRejected)
    assert (rejected.payload.bound_division, rejected.payload.offered_division) == (200001, 200002)
    after = await api.datasource(cfg, ds)
    for key in ("state", "division", "division_name", "grant_id"):
        assert after[key] == before[key], key
    assert after["state"] == "connected" and after["division"] == 200001
    assert after["grant_id"] == str(accepted.payload.grant_id)
    assert await access_token_status(system, accepted.payload.grant_id) == 200  # still usable
    await eventually(lambda: _status_is(system, rejected.payload.offered_grant_id, 410))
    assert len(after["runs"]) == 1  # a recreate re-imports nothing unless asked


async def test_a_user_without_administrator_rights_is_refused_with_a_reason(
    system: LocalSystem, cfg: CliSettings
) -> None:
    create = create_command("share", new_domain=f"Bakkerij {uuid.uuid4().hex[:6]}")
    async with watch(cfg.kafka_bootstrap_servers, TOPICS, create.datasource_id) as events:
        link = await send_for_link(cfg, events, create)
        page = await authorize(link, "carla.user@demo.nl", "demo-carla")
        failed = await expect(events, AuthorizationFailed)
    assert failed.payload.reason_code == "not_administrator"
    assert "administrator" in page.lower()

    async def failed_state() -> dict[str, object] | None:  # datasource applies auth's event
        detail: dict[str, object] = await api.datasource(cfg, create.datasource_id)
        return detail if detail["state"] == "authorization_failed" else None

    detail = await eventually(failed_state, timeout=30)
    assert detail["division"] is None


async def test_a_company_on_another_instance_is_refused_with_a_reason(
    system: LocalSystem, cfg: CliSettings
) -> None:
    create = create_command("share", new_domain=f"Frituur {uuid.uuid4().hex[:6]}")
    async with watch(cfg.kafka_bootstrap_servers, TOPICS, create.datasource_id) as events:
        link = await send_for_link(cfg, events, create)
        page = await authorize(link, "lucas@demo.be", "demo-be", instance="BE")
        failed = await expect(events, AuthorizationFailed)
    assert failed.payload.reason_code == "unsupported_region"
    assert "start.exactonline.nl" in page
