"""The two ways to authorize, end to end: the portal's request over Kafka, the link, auth's
pages, the sandbox's sign-in and consent pages, the callback, and the events auth emits."""

import re

import pytest

import contracts as c

pytestmark = pytest.mark.integration


async def test_self_flow_connects_the_only_division_and_emits_exact_authorized(flow) -> None:
    message = await flow.request(mode="self")
    issued = await flow.event(message.datasource_id, c.AuthorizationLinkIssued)
    assert issued.payload.fetch_url == (
        f"http://auth-internal.test/internal/authorizations/{message.payload.authorization_id}/link")
    assert issued.correlation_id == message.correlation_id
    link = await flow.link(message)
    assert link.startswith("http://auth.test/share/")

    page = await flow.through_exact(flow.person(), link, "anna.admin@demo.nl")

    assert page.status_code == 200
    assert "Connected" in page.text
    assert "Bakkerij De Molen B.V. (division 100001)" in page.text
    assert "initial" not in page.text.lower() or "first import" in page.text
    authorized = await flow.event(message.datasource_id, c.ExactAuthorized)
    p = authorized.payload
    assert (p.authorization_id, p.purpose, p.division, p.division_name, p.exact_user_name) == (
        message.payload.authorization_id, "create", 100001, "Bakkerij De Molen B.V.",
        "anna.admin@demo.nl")
    assert authorized.correlation_id == message.correlation_id
    await flow.remember_tokens(p.grant_id)


async def test_share_flow_is_completed_by_an_administrator_without_an_account(flow) -> None:
    message = await flow.request(mode="share")
    link = await flow.link(message)
    stranger = flow.person()
    landing = await stranger.auth.get(link.removeprefix("http://auth.test"))
    text = re.sub(r"\s+", " ", landing.text)
    assert "Bakkerij Groep" in text and "maria@bakkerij.example" in text
    assert "Only an <strong>administrator</strong> of the company in Exact Online" in text
    assert "start.exactonline.nl" in text and "do not need an account" in text

    page = await flow.through_exact(stranger, link, "dirk.multi@demo.nl")

    assert "Choose the company to connect" in page.text
    assert 'value="200002" checked' in page.text  # the division open in Exact is preselected
    chosen = await stranger.auth.post(
        f"/authorizations/{message.payload.authorization_id}/division", data={"division": "200003"})
    assert chosen.status_code == 303
    outcome = await stranger.auth.get(chosen.headers["location"])
    assert "Van Dijk Vastgoed B.V. (division 200003)" in outcome.text
    authorized = await flow.event(message.datasource_id, c.ExactAuthorized)
    assert authorized.payload.division == 200003
    assert authorized.payload.exact_user_name == "dirk.multi@demo.nl"
