"""A real browser clicks through the share-link flow: headless Chromium (Debian's chromium and
chromium-driver) driven over the W3C WebDriver protocol, against auth served by uvicorn and
the sandbox on free loopback ports. Screenshots of every page are saved as test artefacts
(``$TEST_ARTIFACTS_DIR`` or ``.data/test-artifacts``)."""

import asyncio
import base64
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

import contracts as c
from auth.app import create_app
from connector_runtime.devstack.testing import Infra, eventually

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR") or
                 Path(__file__).resolve().parents[4] / ".data" / "test-artifacts") / "auth-browser"

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class Browser:
    """The few WebDriver commands the test needs."""

    def __init__(self, driver: httpx.AsyncClient, session: str) -> None:
        self._driver = driver
        self._base = f"/session/{session}"
        self.shots: list[Path] = []

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._driver.request(method, self._base + path, json=body)
        data = response.json()
        assert response.status_code == 200, data
        return data["value"]

    async def go(self, url: str) -> None:
        await self._call("POST", "/url", {"url": url})

    async def find(self, css: str) -> str:
        found = await self._call("POST", "/element", {"using": "css selector", "value": css})
        assert isinstance(found, dict), found
        assert ELEMENT in found, found
        return str(found[ELEMENT])

    async def click(self, css: str) -> None:
        await self._call("POST", f"/element/{await self.find(css)}/click", {})

    async def type(self, css: str, text: str) -> None:
        await self._call("POST", f"/element/{await self.find(css)}/value", {"text": text})

    async def text(self) -> str:
        return str(await self._call("POST", "/execute/sync", {
            "script": "return document.body.innerText", "args": []}))

    async def wait_for(self, *phrases: str) -> str:
        """The page text once every phrase is on it (a click's navigation may still run)."""
        async def shown() -> str | None:
            text = await self.text()
            return text if all(p in text for p in phrases) else None

        return str(await eventually(shown, timeout=20))

    async def url(self) -> str:
        return str(await self._call("GET", "/url"))

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{len(self.shots) + 1:02d}-{name}.png"
        path.write_bytes(base64.b64decode(await self._call("GET", "/screenshot")))
        self.shots.append(path)
        return path


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()
    driver_process = subprocess.Popen([CHROMEDRIVER, f"--port={port}"],  # noqa: ASYNC220
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        async def ready() -> bool:
            try:
                return bool((await driver.get("/status")).json()["value"]["ready"])
            except httpx.HTTPError:
                return False

        await eventually(ready, timeout=30)
        created = await driver.post("/session", json={"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1000,1100", "--lang=en-GB"]},
        }}})
        assert created.status_code == 200, created.text
        session = created.json()["value"]["sessionId"]
        yield Browser(driver, session)
        await driver.delete(f"/session/{session}")
    finally:
        await driver.aclose()
        driver_process.terminate()
        driver_process.wait(timeout=10)


@pytest.fixture
async def served(infra: Infra, helpers: Any) -> AsyncIterator[tuple[str, Any]]:
    """Auth on a real port (as in production: uvicorn, no access log) and its own sandbox."""
    from exact_sandbox.app import create_app as create_sandbox
    from exact_sandbox.testing import serve_in_thread

    sock = _free_socket()
    public = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sandbox_app = create_sandbox(helpers.sandbox_config(f"{public}/oauth/callback"))
    with serve_in_thread(sandbox_app) as sandbox_url:
        settings = helpers.auth_settings(infra, sandbox_url, public_base_url=public,
                                 consumer_group="exact-auth-browser-tests")
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, lifespan="off", access_log=False,
                                               log_config=None))
        async with app.router.lifespan_context(app):
            task = asyncio.create_task(server.serve(sockets=[sock]))
            await eventually(lambda: server.started, timeout=10)
            try:
                yield public, app
            finally:
                server.should_exit = True
                await task
    sock.close()


async def test_an_administrator_clicks_through_the_share_link_in_a_real_browser(
        served: tuple[str, Any], browser: Browser, producer: Any, helpers: Any,
        secrets_seen: Any) -> None:
    public, _app = served
    message = c.AuthorizationRequested.create(
        datasource_id=uuid.uuid4(),
        payload=c.AuthorizationRequestedPayload(
            authorization_id=uuid.uuid4(), purpose="create", mode="share",
            company_domain_id=uuid.uuid4(), company_domain_name="Bakkerij Groep",
            requested_by="maria@bakkerij.example"))
    await producer.send_and_wait(c.AUTH_REQUESTS, message.to_bytes(), key=message.key)
    async with httpx.AsyncClient(base_url=public,
                                 headers={"Authorization": f"Bearer {helpers.INTERNAL_TOKEN}"}) as api:
        async def link() -> str | None:
            r = await api.get(f"/internal/authorizations/{message.payload.authorization_id}/link")
            return r.json()["url"] if r.status_code == 200 else None

        url = await eventually(link, timeout=30)
    secrets_seen.add(url, url.rsplit("/", 1)[-1])

    await browser.go(url)
    text = await browser.text()
    assert "Bakkerij Groep" in text and "administrator" in text and "start.exactonline.nl" in text
    await browser.screenshot("landing")
    await browser.click("#start")

    await browser.wait_for("Inloggen", "Wachtwoord")
    await browser.type("input[name=username]", "anna.admin@demo.nl")
    await browser.type("input[name=password]", "demo-anna")
    await browser.screenshot("exact-sign-in")
    await browser.click("button[value=signin]")

    await browser.wait_for("Toegang verlenen")
    await browser.screenshot("exact-consent")
    await browser.click("button[value=approve]")

    text = await browser.wait_for("Connected")
    assert await browser.url() == f"{public}/authorizations/{message.payload.authorization_id}"
    assert "Connected" in text
    assert "Bakkerij De Molen B.V. (division 100001)" in text
    assert "starts automatically" in text
    shot = await browser.screenshot("outcome")
    assert shot.stat().st_size > 5_000
