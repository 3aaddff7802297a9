"""Fixtures for auth's integration tests: the real broker and database (``infra``), the
Exact Online sandbox served by uvicorn on a free port, and the auth app driven in-process.

``Flow`` plays the people: the portal (publishes AuthorizationRequested, fetches the link),
the person following the link (auth's pages) and their browser at Exact (the sandbox's
sign-in and consent pages). Every secret it sees is remembered, so the modules can check
that none of them reached a log line or an event.

Size: the fixtures of every auth integration module; ``Flow`` alone is some 150 lines, and
splitting it from the fixtures that build what it drives would only add imports.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaProducer
from cryptography.fernet import Fernet
from fastapi import FastAPI
from structlog.testing import LogCapture

import contracts as c
from auth.app import create_app
from auth.settings import AuthSettings
from connector_runtime.access import ApiClient, token_sha256
from connector_runtime.devstack.testing import Infra, eventually, read_records
from exact_sandbox.app import create_app as create_sandbox
from exact_sandbox.client import SandboxAdmin
from exact_sandbox.clock import Clock as SandboxClock
from exact_sandbox.config import AppRegistration, Limits, SandboxConfig
from exact_sandbox.testing import serve_in_thread

CLIENT_ID = "c0ffee00-1111-4222-8333-444455556666"
CLIENT_SECRET = "auth-tests-client-secret-9f2c"
PUBLIC = "http://auth.test"
INTERNAL_TOKEN = "internal-api-token-for-tests-7d1e"
INGEST_TOKEN = "ingest-api-token-for-tests-51aa"
PORTAL_TOKEN = "portal-api-token-for-tests-0c9b"
PASSWORDS = {"anna.admin@demo.nl": "demo-anna", "bram.admin@demo.nl": "demo-bram",
             "carla.user@demo.nl": "demo-carla", "dirk.multi@demo.nl": "demo-dirk",
             "lucas@demo.be": "demo-be"}


class SkewClock:
    """Auth's clock in tests: real time plus an offset the tests move."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Sandbox:
    url: str
    app: Any

    @property
    def clock(self) -> SandboxClock:
        clock: SandboxClock = self.app.state.sandbox.clock
        return clock

    async def stats(self) -> dict[str, Any]:
        async with SandboxAdmin(self.url) as admin:
            return await admin.stats()


def sandbox_config(*redirect_uris: str) -> SandboxConfig:
    return SandboxConfig(
        apps=(AppRegistration(CLIENT_ID, CLIENT_SECRET, redirect_uris, name="Auth tests"),),
        limits=Limits(minutely=100_000, daily=1_000_000),
    )


def auth_settings(infra: Infra, sandbox_url: str, **overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
        "database_url": infra.database_url,
        "kafka_session_timeout_ms": 2000,
        "public_base_url": PUBLIC,
        "internal_base_url": "http://auth-internal.test",
        "exact_base_url": sandbox_url,
        "exact_client_id": CLIENT_ID,
        "exact_client_secret": CLIENT_SECRET,
        "token_encryption_key": TOKEN_KEY,
        "link_signing_key": LINK_KEY,
        "api_clients": (ApiClient(name="tests", token_sha256=token_sha256(INTERNAL_TOKEN),
                                  scopes=("access_tokens", "links")),
                        ApiClient(name="ingest", token_sha256=token_sha256(INGEST_TOKEN),
                                  scopes=("access_tokens",)),
                        ApiClient(name="portal", token_sha256=token_sha256(PORTAL_TOKEN),
                                  scopes=("links",))),
        "sweep_interval_seconds": 0.3,
        "consumer_group": "exact-auth-tests",
        **overrides,
    }
    return AuthSettings(**values)


TOKEN_KEY = Fernet.generate_key().decode()
LINK_KEY = "link-signing-key-for-tests-51b0a"


@pytest.fixture(scope="session")
def helpers() -> Any:
    """This module, for test modules that build their own apps (pytest's importlib mode
    does not let them import a conftest)."""
    import sys

    return sys.modules[__name__]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    app = create_sandbox(sandbox_config(f"{PUBLIC}/oauth/callback"))
    with serve_in_thread(app) as url:
        yield Sandbox(url, app)


@pytest.fixture(scope="session")
def clock() -> SkewClock:
    return SkewClock()


@dataclass
class AuthApp:
    app: FastAPI
    settings: AuthSettings

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=PUBLIC)


@pytest.fixture(scope="session")
async def auth(infra: Infra, sandbox: Sandbox, clock: SkewClock) -> AsyncIterator[AuthApp]:
    settings = auth_settings(infra, sandbox.url)
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield AuthApp(app, settings)


@pytest.fixture(scope="session")
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await kafka.start()
    yield kafka
    await kafka.stop()


@dataclass
class Secrets:
    """Every secret value the tests saw; none may appear in a log line or an event."""

    values: set[str] = field(default_factory=set)
    log_events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, *values: str | None) -> None:
        self.values.update(v for v in values if v and len(v) >= 8)

    def found_in(self, text: str) -> list[str]:
        return sorted(v for v in self.values if v in text)


@pytest.fixture(scope="session")
def secrets_seen() -> Secrets:
    seen = Secrets()
    seen.add(CLIENT_SECRET, INTERNAL_TOKEN, INGEST_TOKEN, PORTAL_TOKEN, TOKEN_KEY, LINK_KEY)
    return seen


@pytest.fixture(scope="module", autouse=True)
def captured_logs(secrets_seen: Secrets) -> Iterator[LogCapture]:
    """Every structlog event of the module, kept before any redaction (stricter than
    production, where a redaction processor runs too)."""
    capture = LogCapture()
    old = structlog.get_config()
    structlog.configure(processors=[capture])
    try:
        yield capture
    finally:
        structlog.configure(**old)
        secrets_seen.log_events.extend(capture.entries)


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Person:
    """One person's browser: cookies at auth (in-process) and at Exact (the sandbox)."""

    auth: httpx.AsyncClient
    exact: httpx.AsyncClient


@dataclass
class Flow:
    infra: Infra
    app: AuthApp
    sandbox: Sandbox
    producer: AIOKafkaProducer
    secrets: Secrets
    people: list[Person] = field(default_factory=list)

    def person(self, app: AuthApp | None = None) -> Person:
        person = Person((app or self.app).client(), httpx.AsyncClient(base_url=self.sandbox.url))
        self.people.append(person)
        return person

    async def close(self) -> None:
        for person in self.people:
            await person.auth.aclose()
            await person.exact.aclose()

    def internal(self) -> httpx.AsyncClient:
        client = self.app.client()
        client.headers["Authorization"] = f"Bearer {INTERNAL_TOKEN}"
        return client

    async def request(self, *, mode: str = "share", purpose: str = "create",
                      bound_division: int | None = None,
                      datasource_id: uuid.UUID | None = None,
                      expected: c.ExpectedCompany | None = None) -> c.AuthorizationRequested:
        message = c.AuthorizationRequested.create(
            datasource_id=datasource_id or uuid.uuid4(),
            payload=c.AuthorizationRequestedPayload(
                authorization_id=uuid.uuid4(), purpose=purpose, mode=mode,  # type: ignore[arg-type]
                company_domain_id=uuid.uuid4(), company_domain_name="Bakkerij Groep",
                requested_by="maria@bakkerij.example", bound_division=bound_division,
                expected_company=expected,
            ),
        )
        await self.producer.send_and_wait(c.AUTH_REQUESTS, message.to_bytes(), key=message.key)
        return message

    async def link(self, message: c.AuthorizationRequested) -> str:
        """Wait until auth issued the link, fetch it like the portal does."""
        async with self.internal() as client:
            url = f"/internal/authorizations/{message.payload.authorization_id}/link"

            async def fetched() -> dict[str, Any] | None:
                response = await client.get(url)
                return response.json() if response.status_code == 200 else None

            body = await eventually(fetched, timeout=30)
        self.secrets.add(body["url"], body["url"].rsplit("/", 1)[-1])
        assert body["mode"] == message.payload.mode
        return str(body["url"])

    async def start(self, person: Person, link: str, region: str = "NL") -> httpx.Response:
        landing = await person.auth.get(path_of(link))
        assert landing.status_code == 200, landing.text
        return await person.auth.post(path_of(link) + "/start", data={
            "region": region, "csrf_token": hidden(landing.text, "csrf_token")})

    async def submit(self, person: Person, page: str, action: str,
                     data: dict[str, str] | None = None) -> httpx.Response:
        """POST a form of ``page`` as the browser would: with the page's CSRF token."""
        shown = await person.auth.get(page)
        return await person.auth.post(action, data={
            **(data or {}), "csrf_token": hidden(shown.text, "csrf_token")})

    async def exact_sign_in(self, person: Person, authorize_url: str, username: str,
                            password: str | None = None) -> httpx.Response:
        """Sign in at the sandbox; the response is the consent page (or the sign-in page
        again when Exact does not know the account)."""
        self.secrets.add(*re.findall(r"state=([^&]+)", authorize_url))
        page = await person.exact.get(authorize_url)
        assert page.status_code == 200, page.text
        signed = await person.exact.post("/api/oauth2/auth/signin", data={
            "request_id": hidden(page.text, "request_id"), "username": username,
            "password": password or PASSWORDS[username]})
        if signed.status_code != 303:
            return signed
        return await person.exact.get(signed.headers["location"])

    async def consent(self, person: Person, consent_page: httpx.Response,
                      decision: str = "approve", divisions: list[int] | None = None) -> str:
        """Answer Exact's consent page; returns the path of auth's callback."""
        codes = re.findall(r'name="division" value="(\d+)"', consent_page.text)
        done = await person.exact.post("/api/oauth2/auth/consent", data={
            "request_id": hidden(consent_page.text, "request_id"), "decision": decision,
            "division": [str(d) for d in divisions] if divisions is not None else codes})
        assert done.status_code == 302, done.text
        location = done.headers["location"]
        assert location.startswith(f"{PUBLIC}/oauth/callback?")
        self.secrets.add(*re.findall(r"(?:code|state)=([^&]+)", location))
        return path_of(location)

    async def through_exact(self, person: Person, link: str, username: str, *,
                            decision: str = "approve", divisions: list[int] | None = None
                            ) -> httpx.Response:
        """Landing page -> sign-in -> consent -> callback; returns the page auth shows."""
        started = await self.start(person, link)
        assert started.status_code == 303, started.text
        consent = await self.exact_sign_in(person, started.headers["location"], username)
        callback = await self.consent(person, consent, decision, divisions)
        back = await person.auth.get(callback)
        assert back.status_code == 303, back.text
        return await person.auth.get(back.headers["location"])

    async def connect(self, username: str = "anna.admin@demo.nl", **request: Any
                      ) -> tuple[c.AuthorizationRequested, c.ExactAuthorized]:
        """A whole successful authorization; returns the request and ExactAuthorized."""
        message = await self.request(**request)
        page = await self.through_exact(self.person(), await self.link(message), username)
        assert "Connected" in page.text or "Checking the reconnection" in page.text, page.text
        authorized = await self.event(message.datasource_id, c.ExactAuthorized)
        await self.remember_tokens(authorized.payload.grant_id)
        return message, authorized

    async def events(self, datasource_id: uuid.UUID, until: Any = None,
                     timeout: float = 20.0) -> list[c.Message]:
        def mine(records: list[Any]) -> list[c.Message]:
            return [m for m in (c.parse_message(c.AUTH_EVENTS, r.value) for r in records)
                    if m.datasource_id == datasource_id]

        records = await read_records(self.infra.kafka_bootstrap_servers, c.AUTH_EVENTS,
                                     lambda rs: bool(until(mine(rs))) if until else False,
                                     timeout=timeout if until else 1.0)
        return mine(records)

    async def event(self, datasource_id: uuid.UUID, kind: type[Any]) -> Any:
        found = await self.events(
            datasource_id, lambda ms: any(isinstance(m, kind) for m in ms))
        matching = [m for m in found if isinstance(m, kind)]
        assert matching, f"no {kind.__name__} for {datasource_id}: {found}"
        return matching[-1]

    async def remember_tokens(self, grant_id: uuid.UUID) -> None:
        """Add the grant's current tokens (decrypted from the store) to the secrets."""
        from auth.adapters.crypto import TokenCipher
        from auth.adapters.tables import grants

        async with self.app.app.state.host.engine.connect() as conn:
            row = (await conn.execute(sa.select(grants).where(grants.c.grant_id == grant_id))
                   ).mappings().one()
        cipher = TokenCipher(TOKEN_KEY)
        for column in ("access_token_enc", "refresh_token_enc"):
            if row[column] is not None:
                self.secrets.add(cipher.decrypt(row[column]))


@pytest.fixture
async def flow(infra: Infra, auth: AuthApp, sandbox: Sandbox, producer: AIOKafkaProducer,
               secrets_seen: Secrets) -> AsyncIterator[Flow]:
    f = Flow(infra, auth, sandbox, producer, secrets_seen)
    yield f
    await f.close()
