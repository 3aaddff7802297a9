"""Recreate: the bound division is preselected, the new grant stays pending until the
datasource service decides, then replaces the old grant or is discarded."""

import pytest

import contracts as c
from connector_runtime.devstack.testing import eventually

pytestmark = pytest.mark.integration


async def _token_status(flow, grant_id) -> int:
    async with flow.internal() as internal:
        return (await internal.get(f"/internal/grants/{grant_id}/access-token")).status_code


async def _decide(flow, message: c.Message) -> None:
    await flow.producer.send_and_wait(c.DATASOURCE_EVENTS, message.to_bytes(), key=message.key)


async def _recreate(flow, datasource_id, bound: int, username: str, division: int):
    request = await flow.request(purpose="recreate", bound_division=bound,
                                 datasource_id=datasource_id)
    person = flow.person()
    chooser = await flow.through_exact(person, await flow.link(request), username)
    assert f'value="{bound}" checked' in chooser.text  # bound division preselected
    assert f"connected to company (division) {bound}" in chooser.text
    page_path = f"/authorizations/{request.payload.authorization_id}"
    chosen = await flow.submit(person, page_path, f"{page_path}/division", {"division": str(division)})
    page = await person.auth.get(chosen.headers["location"])
    events = await flow.events(datasource_id, lambda ms: any(
        isinstance(m, c.ExactAuthorized)
        and m.payload.authorization_id == request.payload.authorization_id for m in ms))
    authorized = next(m for m in events if isinstance(m, c.ExactAuthorized)
                      and m.payload.authorization_id == request.payload.authorization_id)
    await flow.remember_tokens(authorized.payload.grant_id)
    return request, person, page, authorized


async def test_an_accepted_recreate_replaces_the_old_grant(flow) -> None:
    create = await flow.request()
    person = flow.person()
    chooser = await flow.through_exact(person, await flow.link(create), "dirk.multi@demo.nl")
    page_path = f"/authorizations/{create.payload.authorization_id}"
    chosen = await flow.submit(person, page_path, f"{page_path}/division", {"division": "200001"})
    assert chosen.status_code == 303, chooser.text
    old = (await flow.event(create.datasource_id, c.ExactAuthorized)).payload.grant_id

    request, person, page, authorized = await _recreate(
        flow, create.datasource_id, 200001, "dirk.multi@demo.nl", 200001)

    assert authorized.payload.purpose == "recreate"
    assert authorized.payload.division == 200001
    new = authorized.payload.grant_id
    assert "Checking the reconnection" in page.text
    assert '<meta http-equiv="refresh"' in page.text
    assert await _token_status(flow, new) == 200  # usable while pending
    await _decide(flow, request.caused(c.RecreateAccepted, c.RecreateAcceptedPayload(
        division=200001, grant_id=new, previous_grant_id=old)))

    async def old_retired() -> bool:
        return await _token_status(flow, old) == 410

    await eventually(old_retired)
    assert await _token_status(flow, new) == 200
    outcome = await person.auth.get(f"/authorizations/{request.payload.authorization_id}")
    assert "Reconnected" in outcome.text
    assert "refresh" not in outcome.text.split("</head>")[0]


async def test_a_rejected_recreate_discards_the_new_grant_and_keeps_the_old(flow) -> None:
    create, first = await flow.connect("anna.admin@demo.nl")
    old = first.payload.grant_id
    request = await flow.request(purpose="recreate", bound_division=100001,
                                 datasource_id=create.datasource_id)
    person = flow.person()
    page = await flow.through_exact(person, await flow.link(request), "dirk.multi@demo.nl")
    assert "Choose the company to connect" in page.text
    assert 'value="200002" checked' in page.text  # bound division absent: the open one
    page_path = f"/authorizations/{request.payload.authorization_id}"
    chosen = await flow.submit(person, page_path, f"{page_path}/division", {"division": "200003"})
    assert chosen.status_code == 303
    events = await flow.events(create.datasource_id, lambda ms: sum(
        isinstance(m, c.ExactAuthorized) for m in ms) == 2)
    offered = [m for m in events if isinstance(m, c.ExactAuthorized)][-1].payload
    assert (offered.purpose, offered.division) == ("recreate", 200003)

    reason = ("You signed in with company 200003, but the data source is connected to "
              "company 100001.")
    await _decide(flow, request.caused(c.RecreateRejected, c.RecreateRejectedPayload(
        bound_division=100001, offered_division=200003, offered_grant_id=offered.grant_id,
        reason=reason)))

    async def discarded() -> bool:
        return await _token_status(flow, offered.grant_id) == 410

    await eventually(discarded)
    assert await _token_status(flow, old) == 200
    outcome = await person.auth.get(f"/authorizations/{request.payload.authorization_id}")
    assert "Reconnection rejected" in outcome.text
    assert reason in outcome.text
