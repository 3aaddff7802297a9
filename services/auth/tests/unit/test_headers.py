"""Security headers: HSTS only when the public URL is https; pages keep their own policy."""

import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from auth.web.headers import STRICT_POLICY, SecurityHeaders, page_policy


def _app(https: bool) -> SecurityHeaders:
    app = FastAPI()

    @app.get("/page")
    async def page() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Content-Security-Policy": page_policy("n", [])})

    @app.get("/json")
    async def json() -> dict[str, str]:
        return {}

    return SecurityHeaders(app, https=https)


async def test_https_pages_get_hsts_and_keep_their_own_policy() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(True)),
                                 base_url="https://auth.test") as client:
        page, other = await client.get("/page"), await client.get("/json")
    assert page.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "'nonce-n'" in page.headers["content-security-policy"]
    assert other.headers["content-security-policy"] == STRICT_POLICY
    assert other.headers["x-content-type-options"] == "nosniff"
