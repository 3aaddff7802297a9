"""Links that cannot be used get a clear page and change nothing; the portal's link endpoint
answers 404/410 for them; the internal API wants the service credential."""

import uuid
from datetime import timedelta

import pytest

import contracts as c

pytestmark = pytest.mark.integration


def _path(link: str) -> str:
    return link.removeprefix("http://auth.test")


async def test_a_tampered_link_gets_a_clear_page(flow) -> None:
    message = await flow.request()
    link = _path(await flow.link(message))
    person = flow.person()
    token = link.rsplit("/", 1)[1]
    payload, signature = token.rsplit(".", 1)
    for tampered in (f"/share/{payload}.{signature[:-2]}xx", f"/share/x{token}", "/share/nonsense"):
        page = await person.auth.get(tampered)
        assert page.status_code == 404
        assert "This link is not valid" in page.text
        assert token not in page.text
        start = await person.auth.post(tampered + "/start", data={"region": "NL"})
        assert start.status_code == 404
    assert (await person.auth.get(link)).status_code == 200  # the real one still works


async def test_an_expired_link_gets_a_clear_page_and_the_authorization_fails(flow, clock) -> None:
    message = await flow.request()
    link = _path(await flow.link(message))
    clock.offset += timedelta(days=7, seconds=1)
    try:
        page = await flow.person().auth.get(link)
        assert page.status_code == 410
        assert "This link has expired" in page.text
        failed = await flow.event(message.datasource_id, c.AuthorizationFailed)
        assert failed.payload.reason_code == "link_expired"
        async with flow.internal() as internal:
            gone = await internal.get(f"/internal/authorizations/{message.payload.authorization_id}/link")
        assert gone.status_code == 410
        assert gone.json()["error"] == "link_expired"
    finally:
        clock.offset -= timedelta(days=7, seconds=1)
    assert (await flow.person().auth.get(link)).status_code == 410  # stays expired


async def test_a_used_link_cannot_be_used_again(flow) -> None:
    message = await flow.request()
    link = await flow.link(message)
    await flow.through_exact(flow.person(), link, "anna.admin@demo.nl")
    await flow.event(message.datasource_id, c.ExactAuthorized)

    for person in (flow.person(), flow.people[0]):
        page = await person.auth.get(_path(link))
        assert page.status_code == 410
        assert "already been used" in page.text
        again = await person.auth.post(_path(link) + "/start", data={"region": "NL"})
        assert again.status_code == 403  # no form to post from: refused before anything
    async with flow.internal() as internal:
        used = await internal.get(f"/internal/authorizations/{message.payload.authorization_id}/link")
    assert used.status_code == 410
    assert used.json()["error"] == "link_used"
    events = await flow.events(message.datasource_id)
    assert [type(e) for e in events] == [c.AuthorizationLinkIssued, c.ExactAuthorized]


async def test_a_link_in_use_in_one_browser_is_refused_in_another(flow) -> None:
    message = await flow.request()
    link = await flow.link(message)
    first = flow.person()
    started = await flow.start(first, link)
    assert started.status_code == 303

    page = await flow.person().auth.get(_path(link))
    assert page.status_code == 410
    assert "in progress in another browser" in page.text
    assert (await first.auth.get(_path(link))).status_code == 200  # the first browser may go on


async def test_a_newer_request_revokes_the_older_link(flow) -> None:
    datasource_id = uuid.uuid4()
    older = await flow.request(datasource_id=datasource_id)
    old_link = _path(await flow.link(older))
    newer = await flow.request(datasource_id=datasource_id, mode="self")
    await flow.link(newer)

    page = await flow.person().auth.get(old_link)
    assert page.status_code == 410
    assert "A newer link replaced this one" in page.text
    failed = await flow.event(datasource_id, c.AuthorizationFailed)
    assert (failed.payload.authorization_id, failed.payload.reason_code) == (
        older.payload.authorization_id, "link_revoked")


async def test_a_redelivered_request_issues_one_link(flow) -> None:
    message = await flow.request()
    await flow.producer.send_and_wait(c.AUTH_REQUESTS, message.to_bytes(), key=message.key)
    await flow.link(message)
    again = await flow.request(datasource_id=message.datasource_id)
    await flow.link(again)
    issued = [e for e in await flow.events(message.datasource_id)
              if isinstance(e, c.AuthorizationLinkIssued)]
    assert [e.payload.authorization_id for e in issued] == [
        message.payload.authorization_id, again.payload.authorization_id]


async def test_the_internal_api_wants_the_service_credential(flow) -> None:
    anonymous = flow.person().auth
    for path in (f"/internal/authorizations/{uuid.uuid4()}/link",
                 f"/internal/grants/{uuid.uuid4()}/access-token"):
        assert (await anonymous.get(path)).status_code == 401
        wrong = await anonymous.get(path, headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401
    async with flow.internal() as internal:
        unknown = await internal.get(f"/internal/authorizations/{uuid.uuid4()}/link")
    assert unknown.status_code == 404


async def test_each_caller_uses_only_its_own_endpoints(flow, helpers) -> None:
    message, authorized = await flow.connect()
    grant = f"/internal/grants/{authorized.payload.grant_id}/access-token"
    link = f"/internal/authorizations/{message.payload.authorization_id}/link"
    caller = flow.person().auth
    as_ingest = {"Authorization": f"Bearer {helpers.INGEST_TOKEN}"}
    as_portal = {"Authorization": f"Bearer {helpers.PORTAL_TOKEN}"}
    assert (await caller.get(link, headers=as_ingest)).status_code == 403
    assert (await caller.get(grant, headers=as_portal)).status_code == 403
    assert (await caller.get(grant, headers=as_ingest)).status_code == 200
    assert (await caller.get(link, headers=as_portal)).status_code == 410  # used: still the portal's


async def test_the_portal_can_withdraw_a_link(flow) -> None:
    message = await flow.request()
    link = _path(await flow.link(message))
    async with flow.internal() as internal:
        url = f"/internal/authorizations/{message.payload.authorization_id}/revoke"
        assert (await internal.post(url)).json() == {"revoked": True}
        assert (await internal.post(url)).json() == {"revoked": False}
        assert (await internal.post(f"/internal/authorizations/{uuid.uuid4()}/revoke")
                ).status_code == 404
    page = await flow.person().auth.get(link)
    assert page.status_code == 410
    failed = await flow.event(message.datasource_id, c.AuthorizationFailed)
    assert failed.payload.reason_code == "link_revoked"
    assert "withdrawn" in failed.payload.reason


async def test_the_outcome_page_is_shown_only_to_the_browser_that_signed_in(flow) -> None:
    message, _authorized = await flow.connect()
    page = await flow.person().auth.get(f"/authorizations/{message.payload.authorization_id}")
    assert page.status_code == 404
    assert "Bakkerij De Molen" not in page.text
