"""Driving a running connector the way the portal and a person do, and reading the sandbox.

:class:`Harness` wraps a started :class:`~connector_demo.system.LocalSystem`: it publishes
portal commands, fetches the authorization link from auth, completes the sign-in with the
scripted browser (the sandbox's real pages), follows the services' events and reads the
sandbox's inspection endpoints. Benchmarks and fault scenarios are written on top of it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from bench.access import Call, calls_of
from bench.events import EventLog
from connector_cli.kafka_io import publish
from connector_demo.authorize import Outcome, complete_authorization
from connector_demo.browser import Browser
from connector_demo.flows import create_command, recreate_command
from connector_demo.system import LocalSystem
from contracts import (
    DATASOURCE_COMMANDS,
    AuthorizationLinkIssued,
    CommandRejected,
    DataSourceAuthorizationFailed,
    DataSourceConnected,
    ExactAuthorized,
    InitialRunRequested,
    Message,
    RecreateAccepted,
    RecreateRejected,
    RunCompleted,
    RunFailed,
    RunStarted,
)
from exact_sandbox.client import SandboxAdmin


class ScenarioError(AssertionError):
    """A step of a scenario did not go as the system promises."""


@dataclass(frozen=True)
class Admin:
    username: str
    password: str


EVA = Admin("eva.large@demo.nl", "demo-eva")
"""Administrator of 300001, 300002 and of every ``--extra-division``."""
DIRK = Admin("dirk.multi@demo.nl", "demo-dirk")
"""Administrator of 200001, 200002 and 200003."""
ANNA = Admin("anna.admin@demo.nl", "demo-anna")
"""Administrator of 100001."""


@dataclass
class Connection:
    """A data source connected to one division, with its initial run."""

    datasource_id: uuid.UUID
    division: int
    grant_id: uuid.UUID
    run_id: uuid.UUID
    authorized_at: datetime
    link: str


@dataclass
class Harness:
    system: LocalSystem
    events: EventLog | None = None
    links: list[str] = field(default_factory=list)
    """Every authorization link fetched (they hold single-use tokens: R7 hunts for them)."""
    callbacks: list[tuple[str, httpx.Cookies]] = field(default_factory=list)
    """Every OAuth callback URL a browser went through (code and state), with its cookies."""

    async def __aenter__(self) -> Harness:
        self.http = httpx.AsyncClient(timeout=120)
        self.exact = SandboxAdmin(self.system.url("sandbox"), http=self.http)
        """The sandbox's admin API: clock, limits, faults, grants, figures."""
        self.events = await EventLog(self.system.bootstrap).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.events is not None:
            await self.events.stop()
        await self.http.aclose()

    @property
    def log(self) -> EventLog:
        assert self.events is not None, "use the harness in `async with`"
        return self.events

    # ---- the sandbox ------------------------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        return await self.exact.stats()

    async def access_mark(self) -> int:
        """The number of the sandbox's last logged call: a mark to read calls after."""
        return int((await self.exact.access_log(since=999999999999))["last"])

    async def calls(self, since: int, division: int | None = None) -> list[Call]:
        """Every API call the sandbox answered after mark ``since`` (401s included)."""
        query: dict[str, int] = {"since": since}
        if division is not None:
            query["division"] = division
        return calls_of(await self.exact.access_log(**query), since)

    async def expected(self, division: int) -> dict[str, Any]:
        return await self.exact.expected(division)

    # ---- services over HTTP -----------------------------------------------------------------

    async def datasource(self, datasource_id: uuid.UUID) -> dict[str, Any]:
        response = await self.http.get(f"{self.system.url('datasource')}/datasources/{datasource_id}",
                                       headers=self.system.bearer("operator"))
        if response.status_code != 200:
            raise ScenarioError(f"datasource read API: {response.status_code} {response.text[:200]}")
        detail: dict[str, Any] = response.json()
        return detail

    async def access_token(self, grant_id: uuid.UUID, auth: str = "auth") -> httpx.Response:
        return await self.http.get(
            f"{self.system.internal_url(auth)}/internal/grants/{grant_id}/access-token",
            headers=self.system.bearer("ingest"))

    async def link_for(self, issued: AuthorizationLinkIssued) -> str:
        response = await self.http.get(issued.payload.fetch_url, headers={
            "Authorization": f"Bearer {self.system.secrets.internal_api_token}"})
        if response.status_code != 200:
            raise ScenarioError(f"link endpoint: {response.status_code} {response.text[:200]}")
        link = str(response.json()["url"])
        self.links.append(link)
        return link

    # ---- portal flows -----------------------------------------------------------------------

    async def send(self, command: Message, timeout: float = 60) -> str:
        """Publish a create/recreate; the link the portal would show."""
        await publish(self.system.bootstrap, DATASOURCE_COMMANDS, command)
        ds = command.datasource_id
        answer = await self.log.wait(
            lambda m: m.datasource_id == ds and isinstance(m, AuthorizationLinkIssued | CommandRejected)
            and m.occurred_at >= command.occurred_at, timeout, f"link for {ds}")
        if isinstance(answer, CommandRejected):
            raise ScenarioError(f"command rejected: {answer.payload.reason}")
        assert isinstance(answer, AuthorizationLinkIssued)
        return await self.link_for(answer)

    async def create(self, mode: str = "self", domain: str | None = None) -> tuple[uuid.UUID, str]:
        command = create_command(mode, new_domain=domain or f"Bench {uuid.uuid4().hex[:8]}",
                                 by="bench@connector.test")
        return command.datasource_id, await self.send(command)

    async def authorize(self, link: str, admin: Admin, division: int | None = None) -> Outcome:
        browser = Browser()

        async def note_callback(request: httpx.Request) -> None:
            if request.url.path.endswith("/oauth/callback"):
                self.callbacks.append((str(request.url), browser.client.cookies))

        browser.client.event_hooks["request"].append(note_callback)
        try:
            return await complete_authorization(browser, link, admin.username, admin.password,
                                                division=division)
        finally:
            await browser.close()

    async def connect(self, admin: Admin, division: int, mode: str = "self",
                      timeout: float = 90) -> Connection:
        """Create a data source in a new company domain and connect it to ``division``."""
        ds, link = await self.create(mode)
        outcome = await self.authorize(link, admin, division)
        done = await self.log.wait(
            lambda m: m.datasource_id == ds
            and isinstance(m, DataSourceConnected | DataSourceAuthorizationFailed),
            timeout, f"connection of {ds}")
        if not isinstance(done, DataSourceConnected):
            raise ScenarioError(f"not connected: {done.payload} / page: {outcome.text[:300]}")
        requested = await self.log.wait(
            lambda m: m.datasource_id == ds and isinstance(m, InitialRunRequested), timeout,
            f"initial run request of {ds}")
        authorized = await self.log.wait(
            lambda m: m.datasource_id == ds and isinstance(m, ExactAuthorized), timeout,
            f"ExactAuthorized of {ds}")
        assert isinstance(requested, InitialRunRequested)
        return Connection(ds, done.payload.division, done.payload.grant_id,
                          requested.payload.run_id, authorized.occurred_at, link)

    async def recreate(self, datasource_id: uuid.UUID, admin: Admin, division: int,
                       mode: str = "self", timeout: float = 90) -> Message:
        """Recreate through the browser flow; RecreateAccepted or RecreateRejected."""
        sent = recreate_command(datasource_id, mode, by="bench@connector.test")
        link = await self.send(sent)
        await self.authorize(link, admin, division)
        return await self.log.wait(
            lambda m: m.datasource_id == datasource_id
            and isinstance(m, RecreateAccepted | RecreateRejected | DataSourceAuthorizationFailed)
            and m.occurred_at >= sent.occurred_at, timeout, f"recreate decision of {datasource_id}")

    # ---- runs -------------------------------------------------------------------------------

    async def run_end(self, run_id: uuid.UUID, timeout: float,
                      final_only: bool = True) -> RunCompleted | RunFailed:
        """RunCompleted, or a RunFailed (``final_only``: one that is not a grant pause)."""

        def ended(m: Message) -> bool:
            if isinstance(m, RunCompleted):
                return bool(m.payload.run_id == run_id)
            if isinstance(m, RunFailed) and m.payload.run_id == run_id:
                return not (final_only and m.payload.reason_code == "grant_revoked")
            return False

        found = await self.log.wait(ended, timeout, f"end of run {run_id}")
        assert isinstance(found, RunCompleted | RunFailed)
        return found

    def run_started(self, run_id: uuid.UUID) -> list[RunStarted]:
        return [m for m in self.log.find(lambda m: isinstance(m, RunStarted)
                                         and m.payload.run_id == run_id)
                if isinstance(m, RunStarted)]
