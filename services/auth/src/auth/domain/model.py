"""Authorization sessions: one per AuthorizationRequested, from link to outcome.

A session is OPEN once its link is issued. A browser that starts the sign-in binds the
session to itself (SIGNING_IN); the OAuth callback from that browser brings the user and
the divisions they granted (CHOOSING); choosing a division the user administers ends it
CONNECTED, anything else ends it FAILED. The link works only while the session is open,
before it expires, and only for the browser that started the sign-in.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from auth.domain.errors import ForgedState, LinkExpired, LinkInvalid, LinkRevoked, LinkUsed, WrongStep
from auth.domain.events import Authorized, DomainEvent, Failed, LinkIssued
from auth.domain.exact import DivisionChoice, ExactUser, ExpectedCompany
from auth.domain.tokens import TokenSet


class Status(StrEnum):
    OPEN = "open"
    SIGNING_IN = "signing_in"
    CHOOSING = "choosing_division"
    CONNECTED = "connected"
    FAILED = "failed"


OPEN_STATUSES = (Status.OPEN, Status.SIGNING_IN, Status.CHOOSING)


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)


@dataclass
class AuthorizationSession:
    authorization_id: uuid.UUID
    datasource_id: uuid.UUID
    correlation_id: uuid.UUID
    purpose: str
    mode: str
    company_domain_id: uuid.UUID
    company_domain_name: str
    requested_by: str
    bound_division: int | None
    link_nonce: str = field(repr=False)
    link_token_sha256: str = field(repr=False)
    link_expires_at: datetime
    created_at: datetime
    status: Status = Status.OPEN
    browser_sha256: str | None = field(default=None, repr=False)
    state_sha256: str | None = field(default=None, repr=False)
    region: str | None = None
    link_used_at: datetime | None = None
    exact_user: ExactUser | None = None
    choices: tuple[DivisionChoice, ...] = ()
    pending_tokens: TokenSet | None = field(default=None, repr=False)
    grant_id: uuid.UUID | None = None
    division: DivisionChoice | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    finished_at: datetime | None = None
    expected: ExpectedCompany | None = None
    """When set, only this company may be connected with the link."""
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, *, link_nonce: str, link_token_sha256: str, link_expires_at: datetime,
             now: datetime, **request: object) -> AuthorizationSession:
        session = cls(link_nonce=link_nonce, link_token_sha256=link_token_sha256,
                      link_expires_at=link_expires_at, created_at=now, **request)  # type: ignore[arg-type]
        session.events.append(LinkIssued(session.authorization_id, session.purpose,
                                         session.mode, link_expires_at))
        return session

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    # ---- the link ------------------------------------------------------------------------

    def check_link(self, token_sha256: str, now: datetime, browser_sha256: str | None) -> None:
        """Raise the LinkError that describes why this link cannot be used now."""
        if not _same(token_sha256, self.link_token_sha256):
            raise LinkInvalid("the link does not match its authorization")
        if self.failure_code == "link_revoked":
            raise LinkRevoked("a newer authorization replaced this link")
        if self.failure_code == "link_expired":
            raise LinkExpired("the link expired")
        if not self.is_open:
            raise LinkUsed("the authorization already ended")
        if now >= self.link_expires_at:
            raise LinkExpired("the link expired")
        if self.status is not Status.OPEN and not _same(browser_sha256, self.browser_sha256):
            raise LinkUsed("the link is in use in another browser")

    def link_fetchable(self, now: datetime) -> None:
        """For the portal's link endpoint: raise a LinkError unless the link can be shown."""
        if self.failure_code == "link_revoked":
            raise LinkRevoked("a newer authorization replaced this link")
        if self.failure_code == "link_expired" or (self.is_open and now >= self.link_expires_at):
            raise LinkExpired("the link expired")
        if not self.is_open:
            raise LinkUsed("the authorization already ended")

    def start_sign_in(self, *, token_sha256: str, browser_sha256: str, state_sha256: str,
                      region: str, region_supported: bool, refusal: str, now: datetime) -> bool:
        """Bind to this browser and expect the callback; False when the region is refused."""
        self.check_link(token_sha256, now, browser_sha256)
        self.region = region
        self.browser_sha256 = browser_sha256
        if not region_supported:
            self.fail("unsupported_region", refusal, now)
            return False
        self._await_callback(browser_sha256, state_sha256, now)
        return True

    def restart_sign_in(self, *, browser_sha256: str, state_sha256: str, now: datetime,
                        rotate_to: str | None = None) -> None:
        """Start the sign-in again from the same browser (after Exact was unreachable);
        ``rotate_to``: the hash of the browser's new binding secret."""
        if not self.is_open or self.status is Status.OPEN:
            raise WrongStep("nothing to restart")
        if not _same(browser_sha256, self.browser_sha256):
            raise ForgedState("another browser started this sign-in")
        if now >= self.link_expires_at:
            raise LinkExpired("the link expired")
        self._await_callback(rotate_to or browser_sha256, state_sha256, now)

    def _await_callback(self, browser_sha256: str, state_sha256: str, now: datetime) -> None:
        self.status = Status.SIGNING_IN
        self.browser_sha256 = browser_sha256
        self.state_sha256 = state_sha256
        self.link_used_at = self.link_used_at or now
        self.pending_tokens = None
        self.choices = ()
        self.exact_user = None

    # ---- the callback --------------------------------------------------------------------

    def accept_callback(self, state_sha256: str, browser_sha256: str | None) -> None:
        """The state and browser must be the ones that started this sign-in (CSRF)."""
        if self.status is not Status.SIGNING_IN or not _same(state_sha256, self.state_sha256):
            raise ForgedState("the state does not belong to a sign-in in progress")
        if not _same(browser_sha256, self.browser_sha256):
            raise ForgedState("the callback came to another browser")
        self.state_sha256 = None

    def signed_in(self, user: ExactUser, choices: tuple[DivisionChoice, ...], tokens: TokenSet,
                  now: datetime) -> DivisionChoice | None:
        """Remember who signed in; the division when there is only one to choose.

        With an expected company, only that company is offered; when the user gave access to
        no such company the authorization fails (``unexpected_company``): a forwarded link
        cannot connect anyone else's company.
        """
        if not choices:
            self.fail("no_division", "The Exact Online user who signed in gave access to no "
                      "company. Sign in again and allow access to the company to connect.", now)
            return None
        if self.expected is not None:
            allowed = tuple(c for c in choices if self.expected.matches(c))
            if not allowed:
                offered = ", ".join(f"{c.code} ({c.name})" for c in choices)
                self.fail("unexpected_company",
                          f"This link may only connect the Exact Online company with "
                          f"{self.expected.describe()}, but the user who signed in gave access "
                          f"to {offered}. Nothing was connected. If you are not an administrator "
                          "of that company, you were sent this link by mistake.", now)
                return None
            choices = allowed
        self.status = Status.CHOOSING
        self.exact_user = user
        self.choices = choices
        self.pending_tokens = tokens
        return choices[0] if len(choices) == 1 else None

    def choose(self, code: int, browser_sha256: str | None) -> DivisionChoice:
        if self.status is not Status.CHOOSING:
            raise WrongStep("no division to choose")
        if not _same(browser_sha256, self.browser_sha256):
            raise ForgedState("another browser started this sign-in")
        found = next((c for c in self.choices if c.code == code), None)
        if found is None:
            raise WrongStep("that company is not among the ones access was given to")
        return found

    def owned_by(self, browser_sha256: str | None) -> bool:
        return _same(browser_sha256, self.browser_sha256)

    # ---- outcomes ------------------------------------------------------------------------

    def connect(self, grant_id: uuid.UUID, division: DivisionChoice, now: datetime) -> None:
        if self.status is not Status.CHOOSING or self.exact_user is None:
            raise WrongStep("not signed in")
        self.status = Status.CONNECTED
        self.grant_id = grant_id
        self.division = division
        self.pending_tokens = None
        self.finished_at = now
        self.events.append(Authorized(self.authorization_id, self.purpose, grant_id,
                                      division.code, division.name, self.exact_user.user_id,
                                      self.exact_user.user_name, now, division.vat_number,
                                      self.expected is not None and self.expected.matches(division)))

    def fail(self, code: str, reason: str, now: datetime,
             division: DivisionChoice | None = None) -> None:
        if not self.is_open:
            raise WrongStep("the authorization already ended")
        self.status = Status.FAILED
        self.failure_code = code
        self.failure_reason = reason
        self.division = division
        self.state_sha256 = None
        self.pending_tokens = None
        self.finished_at = now
        self.events.append(Failed(self.authorization_id, self.purpose, code, reason))

    def expire(self, now: datetime) -> bool:
        if not self.is_open or now < self.link_expires_at:
            return False
        self.fail("link_expired", "The authorization link expired before the connection "
                  "was completed. Start the authorization again to get a new link.", now)
        return True

    def revoke(self, now: datetime, reason: str = "A newer authorization for this data source "
               "replaced this link.") -> bool:
        if not self.is_open:
            return False
        self.fail("link_revoked", reason, now)
        return True
