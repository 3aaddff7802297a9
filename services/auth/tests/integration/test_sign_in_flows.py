"""The two ways to authorize, end to end: the portal's request over Kafka, the link, auth's
pages, the sandbox's sign-in and consent pages, the callback, and the events auth emits."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

import contracts as c
from exact_sandbox.client import SandboxAdmin

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
    page_path = f"/authorizations/{message.payload.authorization_id}"
    chosen = await flow.submit(stranger, page_path, f"{page_path}/division", {"division": "200003"})
    assert chosen.status_code == 303
    outcome = await stranger.auth.get(chosen.headers["location"])
    assert "Van Dijk Vastgoed B.V. (division 200003)" in outcome.text
    authorized = await flow.event(message.datasource_id, c.ExactAuthorized)
    assert authorized.payload.division == 200003
    assert authorized.payload.exact_user_name == "dirk.multi@demo.nl"


async def _only_link_issued(flow, message) -> None:
    events = await flow.events(message.datasource_id)
    assert [type(e) for e in events] == [c.AuthorizationLinkIssued]


async def test_a_user_without_the_administrator_role_is_refused(flow) -> None:
    message = await flow.request()
    page = await flow.through_exact(flow.person(), await flow.link(message), "carla.user@demo.nl")

    assert "The company was not connected" in page.text
    assert "not an administrator of this company" in page.text
    failed = await flow.event(message.datasource_id, c.AuthorizationFailed)
    assert failed.payload.reason_code == "not_administrator"
    assert "not an administrator" in failed.payload.reason
    assert not [e for e in await flow.events(message.datasource_id)
                if isinstance(e, c.ExactAuthorized)]


async def test_declined_consent_ends_the_authorization_with_access_denied(flow) -> None:
    message = await flow.request()
    page = await flow.through_exact(flow.person(), await flow.link(message), "anna.admin@demo.nl",
                                    decision="decline")

    assert "Access was declined at Exact Online" in page.text
    failed = await flow.event(message.datasource_id, c.AuthorizationFailed)
    assert failed.payload.reason_code == "access_denied"


async def test_choosing_another_instance_up_front_is_refused_with_a_clear_reason(flow) -> None:
    message = await flow.request()
    person = flow.person()
    refused = await flow.start(person, await flow.link(message), region="BE")

    assert refused.status_code == 303
    assert refused.headers["location"] == f"/authorizations/{message.payload.authorization_id}"
    page = await person.auth.get(refused.headers["location"])
    assert "instance of Belgium (start.exactonline.be)" in page.text
    assert "cannot be connected" in page.text
    failed = await flow.event(message.datasource_id, c.AuthorizationFailed)
    assert failed.payload.reason_code == "unsupported_region"
    assert "start.exactonline.nl" in failed.payload.reason


async def test_an_account_on_another_instance_cannot_sign_in_and_nothing_changes(flow) -> None:
    message = await flow.request()
    person = flow.person()
    started = await flow.start(person, await flow.link(message))
    page = await flow.exact_sign_in(person, started.headers["location"], "lucas@demo.be")

    assert page.status_code == 200
    assert "De gebruikersnaam of het wachtwoord is onjuist." in page.text  # Exact's own page
    landing = await person.auth.get(f"/authorizations/{message.payload.authorization_id}")
    assert "has not finished" in landing.text  # the person can start again
    await _only_link_issued(flow, message)


async def test_a_forged_or_replayed_state_is_refused_and_changes_nothing(flow) -> None:
    message = await flow.request()
    person = flow.person()
    started = await flow.start(person, await flow.link(message))
    consent = await flow.exact_sign_in(person, started.headers["location"], "anna.admin@demo.nl")
    callback = await flow.consent(person, consent)
    state = re.search(r"state=([^&]+)", callback).group(1)
    code = re.search(r"code=([^&]+)", callback).group(1)

    forged = await person.auth.get(f"/oauth/callback?code={code}&state={state[:-4]}abcd")
    assert forged.status_code == 400
    assert "could not be verified" in forged.text
    other_browser = flow.person()
    stolen = await other_browser.auth.get(callback)
    assert stolen.status_code == 400
    await _only_link_issued(flow, message)

    done = await person.auth.get(callback)  # the real callback still works
    assert done.status_code == 303
    replay = await person.auth.get(callback)
    assert replay.status_code == 400
    assert (await flow.event(message.datasource_id, c.ExactAuthorized)).payload.division == 100001


async def test_access_to_other_companies_than_the_open_one_asks_to_sign_in_again(flow) -> None:
    message = await flow.request()
    person = flow.person()
    started = await flow.start(person, await flow.link(message))
    consent = await flow.exact_sign_in(person, started.headers["location"], "dirk.multi@demo.nl")
    callback = await flow.consent(person, consent, divisions=[200001])  # not 200002, the open one

    page = await person.auth.get(callback)
    assert page.status_code == 409
    assert "division 200002" in page.text
    await _only_link_issued(flow, message)

    page_path = f"/authorizations/{message.payload.authorization_id}"

    again = await flow.submit(person, page_path, f"{page_path}/restart")
    assert again.status_code == 303
    consent = await person.exact.get(again.headers["location"])  # Exact remembers the sign-in
    consent = await person.exact.get(consent.headers["location"])
    back = await person.auth.get(await flow.consent(person, consent))
    chooser = await person.auth.get(back.headers["location"])
    assert "Choose the company to connect" in chooser.text


async def test_exacts_own_words_of_a_decline_reach_the_page_and_the_event_escaped(flow) -> None:
    message = await flow.request()
    person = flow.person()
    started = await flow.start(person, await flow.link(message))
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    flow.secrets.add(state)
    words = "Gebruiker <script>alert(1)</script> heeft geen toegang tot deze omgeving"
    back = await person.auth.get("/oauth/callback", params={
        "state": state, "error": "access_denied", "error_description": words})
    page = await person.auth.get(back.headers["location"])

    assert "heeft geen toegang tot deze omgeving" in page.text
    assert "<script>" not in page.text
    assert "another country" in page.text
    failed = await flow.event(message.datasource_id, c.AuthorizationFailed)
    assert failed.payload.reason_code == "access_denied"
    assert "heeft geen toegang tot deze omgeving" in failed.payload.reason
    assert "<" not in failed.payload.reason


async def test_sign_in_succeeds_through_exacts_transient_faults(flow) -> None:
    """Every sign-in call - code exchange, Me, divisions, roles, rights - meets 5xx, slow
    answers, dropped connections and broken JSON, and the person still sees one page:
    connected."""
    async with SandboxAdmin(flow.sandbox.url) as exact:
        await exact.set_faults(error_5xx_rate=0.12, drop_rate=0.06, malformed_json_rate=0.06,
                               timeout_rate=0.04, hang_seconds=0.2, include_token_endpoint=True,
                               seed=5)
        try:
            before = await flow.sandbox.stats()
            message = await flow.request()
            page = await flow.through_exact(flow.person(), await flow.link(message),
                                            "anna.admin@demo.nl")
            after = await flow.sandbox.stats()
        finally:
            await exact.clear_faults()
    assert "Connected" in page.text, page.text
    authorized = await flow.event(message.datasource_id, c.ExactAuthorized)
    await flow.remember_tokens(authorized.payload.grant_id)
    injected = {k: v - before["faults_injected"].get(k, 0)
                for k, v in after["faults_injected"].items()}
    assert sum(injected.values()) >= 2, injected


async def test_a_forwarded_link_refuses_another_companys_administrator(flow) -> None:
    message = await flow.request(expected=c.ExpectedCompany(vat_number="NL001234567B01"))
    page = await flow.through_exact(flow.person(), await flow.link(message), "dirk.multi@demo.nl")

    assert page.status_code == 200 and "The company was not connected" in page.text
    assert "may only connect the Exact Online company with VAT number NL001234567B01" in page.text
    failed = await flow.event(message.datasource_id, c.AuthorizationFailed)
    assert failed.payload.reason_code == "unexpected_company"
    assert not [e for e in await flow.events(message.datasource_id)
                if isinstance(e, c.ExactAuthorized)]


async def test_a_link_for_one_company_connects_it_by_its_vat_number(flow) -> None:
    message = await flow.request(expected=c.ExpectedCompany(vat_number="nl 0023.45678 b03"))
    page = await flow.through_exact(flow.person(), await flow.link(message), "dirk.multi@demo.nl")

    assert "Van Dijk Vastgoed B.V. (division 200003)" in page.text  # no choice among the others
    authorized = await flow.event(message.datasource_id, c.ExactAuthorized)
    assert (authorized.payload.division, authorized.payload.company_verified) == (200003, True)
    assert authorized.payload.vat_number == "NL002345678B03"


async def test_no_secret_reached_a_log_line_an_event_or_the_outbox(flow, secrets_seen,
                                                                   captured_logs) -> None:
    """Runs last in the auth suite: greps everything logged and sent so far for every token,
    code, state, link, key and secret the tests saw."""
    import sqlalchemy as sa

    from auth.adapters.tables import outbox
    from connector_runtime.devstack.testing import read_records

    assert len(secrets_seen.values) > 20
    logged = [*secrets_seen.log_events, *captured_logs.entries]
    assert logged and any(e.get("event") == "exact_authorized" for e in logged)
    assert [e.get("event") for e in logged if secrets_seen.found_in(repr(e))] == []
    topics = [c.AUTH_EVENTS, c.dead_letter_topic(c.AUTH_EVENTS), c.dead_letter_topic(c.AUTH_REQUESTS),
              c.dead_letter_topic(c.DATASOURCE_EVENTS)]
    for topic in topics:
        records = await read_records(flow.infra.kafka_bootstrap_servers, topic, lambda rs: False,
                                     timeout=1.5)
        assert topic != c.AUTH_EVENTS or len(records) > 20
        for record in records:
            assert not secrets_seen.found_in(repr(record.value) + repr(record.headers)), topic
    async with flow.app.app.state.host.engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.value))).scalars().all()
    assert rows
    assert sum(1 for v in rows if secrets_seen.found_in(v.decode())) == 0
