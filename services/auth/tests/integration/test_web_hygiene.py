"""The pages' guards: CSRF token and Origin on every POST, a fresh binding cookie at every
sign-in, and the security headers."""

import re

import pytest

import contracts as c

pytestmark = pytest.mark.integration


def _path(link: str) -> str:
    return link.removeprefix("http://auth.test")


async def test_a_post_without_the_pages_token_or_from_another_site_changes_nothing(
        flow, helpers) -> None:
    message = await flow.request()
    link = _path(await flow.link(message))
    person = flow.person()
    landing = await person.auth.get(link)
    token = helpers.hidden(landing.text, "csrf_token")
    other = flow.person()
    other_token = helpers.hidden((await other.auth.get(link)).text, "csrf_token")
    attempts = [
        ({"region": "NL"}, {}),  # no token
        ({"region": "NL", "csrf_token": "0" * 64}, {}),  # a made-up token
        ({"region": "NL", "csrf_token": other_token}, {}),  # another browser's token
        ({"region": "NL", "csrf_token": token}, {"Origin": "https://evil.example"}),
        ({"region": "NL", "csrf_token": token}, {"Origin": "null"}),
        ({"region": "NL", "csrf_token": token}, {"Referer": "https://evil.example/page"}),
    ]
    for data, headers in attempts:
        answer = await person.auth.post(link + "/start", data=data, headers=headers)
        assert answer.status_code == 403, (data, headers)
        assert "This form could not be accepted" in answer.text
    events = await flow.events(message.datasource_id)
    assert [type(e) for e in events] == [c.AuthorizationLinkIssued]  # nothing started
    ours = await person.auth.post(link + "/start", data={"region": "NL", "csrf_token": token},
                                  headers={"Origin": "http://auth.test"})
    assert ours.status_code == 303 and "/api/oauth2/auth" in ours.headers["location"]


async def test_the_binding_cookie_is_replaced_when_the_sign_in_starts(flow) -> None:
    message = await flow.request()
    link = await flow.link(message)
    person = flow.person()
    name = f"exact_auth_{message.payload.authorization_id.hex}"
    await person.auth.get(_path(link))
    before = person.auth.cookies.get(name)
    started = await flow.start(person, link)
    assert started.status_code == 303
    after = person.auth.cookies.get(name)
    assert before and after and before != after
    cookie = started.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


async def test_pages_and_answers_carry_the_security_headers(flow) -> None:
    message = await flow.request()
    person = flow.person()
    page = await person.auth.get(_path(await flow.link(message)))
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce and f'nonce="{nonce.group(1)}"' in page.text
    assert f"form-action 'self' {flow.sandbox.url}" in policy  # the sign-in redirects to Exact
    for answer in (page, await person.auth.get("/share/nonsense"), await person.auth.get("/healthz")):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in answer.headers  # http here: no HSTS
