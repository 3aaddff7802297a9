"""One Exact company's call budget, as every run and replica calling it shares it.

Exact counts calls per app and company in fixed windows: a minute that resets on the
whole minute and a day that resets at 00:00 UTC, and it reports what is left in the
``X-RateLimit-*`` headers (resets as UTC epoch milliseconds of *Exact's* clock; the adapter
:mod:`ingest.adapters.rate_headers` reads them into :class:`RateHeaders`). It also
blocks an endpoint for an hour after too many 4xx answers.

:class:`Budget` is the state kept per company (the adapter stores it in PostgreSQL and
changes it under a row lock). :meth:`Budget.decide` says whether a call may go now; every
answer is fed back with :meth:`Budget.observe`. The rules:

* never call while the window's remaining calls (minus calls in flight) are spent,
  until Exact's clock has surely passed the window's reset;
* spread what is left of the window evenly over the time left (pacing), so a run uses the
  whole minutely budget without bursts and sees every window change;
* when the daily budget (or an endpoint's error budget) is spent, say how long to wait.

Exact's clock is not ours: :class:`ServerClock` keeps a *lower bound* of it, learned from
the reset headers (each answer says "Exact's time was in [reset - 60 s, reset)") and the
HTTP ``Date`` when it agrees with them, assuming it runs at least as fast as real time.
Waiting on a lower bound is never early.

Size: one value (:class:`Budget`) with the rules above; they read and change the same window
state, and the unit tests check them against this one place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ingest.domain.server_clock import WINDOW_MS, ServerClock

ERROR_WINDOW_MS = 3_600_000
_MARGIN_MS = 150
_LEARN_SPACING_MS = 1_000
BLOCK_ROOM = 50
"""Calls a window must have left per permit for a block however little of the window is left
(far from any limit: Exact with its limits lifted, a sandbox)."""
FAR_BLOCK = 32
"""Far from every limit (the window and the day each hold :data:`BLOCK_ROOM` calls per permit
of a block this size: Exact with its limits lifted, a sandbox, a re-import at a raised limit)
a block holds at least this many permits: one budget transaction for 32 calls instead of 8,
on the path of every page. Exact's real minute of 60 calls never gets near it."""
BLOCK_HEADROOM = 10
"""Near a limit (Exact's real minute holds 60 calls) a block goes out only while the window
keeps room for the block and this many calls more: the window's last calls are decided one
at a time, each on the latest answer."""
BLOCK_END_MS = 5_000
"""Near a limit a block goes out only while at least twice this is left of the window (by the
lower bound of Exact's clock), and its permits are not used in the window's last
``BLOCK_END_MS``: a block never reaches into the next window."""


@dataclass(frozen=True)
class RateHeaders:
    """The ``X-RateLimit-*`` values of one answer (a 429 carries only the limit it hit)."""

    minutely_limit: int | None = None
    minutely_remaining: int | None = None
    minutely_reset_ms: int | None = None
    daily_limit: int | None = None
    daily_remaining: int | None = None
    daily_reset_ms: int | None = None
    date_ms: int | None = None
    """The answer's HTTP ``Date`` (whole seconds), used when it agrees with the minute reset."""


@dataclass(frozen=True)
class Go:
    """Call now."""


@dataclass(frozen=True)
class Wait:
    """Ask again after ``seconds``: pacing, a spent minute, or calls in flight."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class Spent:
    """A budget that lasts longer (daily, error budget): wait ``seconds`` before any call."""

    seconds: float
    kind: str
    reason: str


Decision = Go | Wait | Spent


@dataclass(frozen=True)
class BudgetView:
    """What a run reports about its company's budget (progress events, ETA)."""

    minutely_limit: int
    minutely_remaining: int | None
    daily_limit: int | None
    daily_remaining: int | None
    seconds_per_call: float
    seconds_to_daily_reset: float | None


@dataclass
class Budget:
    """Shared call budget of one company (division)."""

    minutely_limit: int | None = None
    window_reset_ms: int | None = None
    window_remaining: int | None = None
    daily_limit: int | None = None
    daily_reset_ms: int | None = None
    daily_remaining: int | None = None
    last_call_floor_ms: int | None = None
    in_flight: int = 0
    in_flight_since_ms: int = 0
    errors: dict[str, list[int]] = field(default_factory=dict)
    clock: ServerClock = field(default_factory=ServerClock)

    # ---- decisions ------------------------------------------------------------------------

    def decide(self, now_ms: int, endpoint: str, *, default_limit: int, error_budget: int,
               stale_after_ms: int, reserve: float = 0.0) -> Decision:
        """May one call to ``endpoint`` go now? On Go, the call counts as in flight.

        ``reserve``: share of the daily limit this caller must leave (:mod:`ingest.domain.plan`);
        below it the day counts as spent for this caller."""
        if self.in_flight and now_ms - self.in_flight_since_ms > stale_after_ms:
            self.in_flight = 0  # a caller died without reporting back
        floor = self.clock.floor(now_ms)
        self._roll_windows(floor)
        errors = [t for t in self.errors.get(endpoint, []) if t > now_ms - ERROR_WINDOW_MS]
        self.errors[endpoint] = errors
        if errors and len(errors) >= error_budget:
            wait = (errors[0] + ERROR_WINDOW_MS - now_ms) / 1000
            return Spent(max(wait, 1.0), "error_budget",
                         f"{len(errors)} errors on {endpoint} in the last hour; "
                         "waiting so Exact does not block the endpoint")
        kept = self._kept(reserve)
        if self.daily_remaining is not None and self.daily_remaining - self.in_flight <= kept:
            if self.in_flight:
                return Wait(0.05, "daily budget: calls in flight")
            return Spent(self._seconds_until(self.daily_reset_ms, now_ms), "daily",
                         "the daily API budget of this company is spent" if kept <= 0 else
                         f"the daily API budget of this company is down to the {kept} "
                         "calls kept for its syncs")
        if self.window_remaining is None:
            if self.in_flight:
                return Wait(0.02, "window unknown: one call in flight learns it")
            return self._go(now_ms, floor)
        left = self.window_remaining - self.in_flight
        if left <= 0:
            if self.in_flight:
                return Wait(0.02, "minute spent: calls in flight")
            return Wait(self._seconds_until(self.window_reset_ms, now_ms), "minute spent")
        if floor is not None and self.window_reset_ms is not None and \
                self.last_call_floor_ms is not None:
            spacing = max(0, self.window_reset_ms - floor) / (left + 1)
            # Front-load the window: a spent window then waits for a reset we can place, and
            # window changes are seen often enough to learn a clock that runs faster.
            if self.clock.speed <= 1.0:
                spacing = min(spacing / 8, _LEARN_SPACING_MS)
            else:
                spacing /= 2
            due = min(self.last_call_floor_ms + spacing, self.window_reset_ms)
            if floor < due:
                return Wait((due - floor) / self.clock.speed / 1000, "pacing")
        return self._go(now_ms, floor)

    def block(self, now_ms: int, endpoint: str, size: int, reserve: float = 0.0) -> int:
        """After a Go: how many more calls may go without asking again (they count as in
        flight at once; use them before :meth:`block_ends_ms`, for endpoints not
        :meth:`erring`). None when the
        window or the day could not hold the block and :data:`BLOCK_HEADROOM` calls more,
        when less than ``2 * BLOCK_END_MS`` is left of the window, when errors were seen on
        the endpoint, or while the window is not known."""
        if size <= 1 or self.window_remaining is None or self.window_reset_ms is None or \
                self.errors.get(endpoint):
            return 0
        room = self.window_remaining - self.in_flight
        if self.daily_remaining is not None:
            kept = self._kept(reserve)
            room = min(room, self.daily_remaining - self.in_flight - kept)
        if room >= BLOCK_ROOM * FAR_BLOCK:
            size = max(size, FAR_BLOCK)
        floor = self.clock.floor(now_ms)
        roomy = room >= size - 1 + BLOCK_HEADROOM and floor is not None and \
            self.window_reset_ms - floor >= 2 * BLOCK_END_MS
        extra = size - 1 if room >= BLOCK_ROOM * size or roomy else 0
        self.in_flight += extra
        return extra

    def erring(self, now_ms: int) -> frozenset[str]:
        """Endpoints with a 4xx answer in the last hour: each of their calls is decided alone
        (a block's permits are not used for them), so their error budget is always checked."""
        return frozenset(e for e, times in self.errors.items()
                         if any(t > now_ms - ERROR_WINDOW_MS for t in times))

    def block_ends_ms(self, now_ms: int) -> int:
        """Local time after which a block's unused permits are given back, not used: the
        window's last :data:`BLOCK_END_MS` as the lower bound of Exact's clock places them."""
        if self.window_reset_ms is None:
            return now_ms
        return self.clock.local_ms_when(self.window_reset_ms - BLOCK_END_MS, now_ms)

    def give_back(self, window_reset_ms: int | None, unused: int) -> None:
        """Permits of a block that were not used: no longer in flight. Not once another window
        is known: a new window started with nothing in flight (while none is known, after
        Exact's clock was found to differ, they still count and are given back)."""
        if self.window_reset_ms is None or window_reset_ms == self.window_reset_ms:
            self.in_flight = max(0, self.in_flight - unused)

    def _kept(self, reserve: float) -> int:
        """Calls of today a caller with ``reserve`` (a share of the daily limit) leaves."""
        return int(max(0.0, reserve) * (self.daily_limit or 0))

    def _go(self, now_ms: int, floor: int | None) -> Go:
        self.in_flight += 1
        self.in_flight_since_ms = now_ms
        if floor is not None:
            self.last_call_floor_ms = floor
        return Go()

    def _roll_windows(self, floor: int | None) -> None:
        if floor is None:
            return
        if self.window_reset_ms is not None and floor >= self.window_reset_ms + _MARGIN_MS:
            self.window_reset_ms = self.window_remaining = None
            # Calls still in flight were let go in the window that ended; the new one does not
            # wait for them. (A replica killed with a call in flight would otherwise hold every
            # call of the company until its permit went stale: a minute or two after a crash.)
            self.in_flight = 0
        if self.daily_reset_ms is not None and floor >= self.daily_reset_ms + _MARGIN_MS:
            self.daily_reset_ms = self.daily_remaining = None

    def _seconds_until(self, server_ms: int | None, now_ms: int) -> float:
        if server_ms is None:
            return WINDOW_MS / 1000
        when = self.clock.local_ms_when(server_ms + _MARGIN_MS, now_ms)
        return max(0.01, (when - now_ms) / 1000)

    # ---- feedback -------------------------------------------------------------------------

    def observe(self, sent_ms: int, received_ms: int, endpoint: str, status: int | None,
                headers: RateHeaders | None) -> None:
        """The answer to a call that :meth:`decide` let go (``status`` None: no answer)."""
        self.in_flight = max(0, self.in_flight - 1)
        if status in (400, 401, 403, 404):
            self.errors.setdefault(endpoint, []).append(received_ms)
        if headers is None:
            return
        if headers.minutely_reset_ms is not None:
            if self.clock.observe(sent_ms, received_ms, headers.minutely_reset_ms,
                                  headers.date_ms):
                # Exact's clock is not what we thought: forget readings in the old frame
                self.last_call_floor_ms = None
                self.window_reset_ms = self.window_remaining = None
                self.daily_reset_ms = self.daily_remaining = None
            if headers.minutely_limit is not None:
                self.minutely_limit = headers.minutely_limit
            if headers.minutely_remaining is not None:
                self.window_reset_ms, self.window_remaining = _merge(
                    self.window_reset_ms, self.window_remaining,
                    headers.minutely_reset_ms, headers.minutely_remaining)
        if headers.daily_reset_ms is not None and headers.daily_remaining is not None:
            if headers.daily_limit is not None:
                self.daily_limit = headers.daily_limit
            self.daily_reset_ms, self.daily_remaining = _merge(
                self.daily_reset_ms, self.daily_remaining,
                headers.daily_reset_ms, headers.daily_remaining)

    # ---- views ----------------------------------------------------------------------------

    def view(self, now_ms: int, default_limit: int) -> BudgetView:
        return BudgetView(
            minutely_limit=self.minutely_limit or default_limit,
            minutely_remaining=self.window_remaining,
            daily_limit=self.daily_limit,
            daily_remaining=self.daily_remaining,
            seconds_per_call=WINDOW_MS / 1000 / (self.minutely_limit or default_limit),
            seconds_to_daily_reset=(None if self.daily_reset_ms is None
                                    else self._seconds_until(self.daily_reset_ms, now_ms)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Budget:
        if not data:
            return cls()
        data = dict(data)
        clock_data = dict(data.pop("clock", {}))
        known_clock = {k: v for k, v in clock_data.items()
                       if k in ServerClock.__dataclass_fields__}
        clock = ServerClock(**known_clock)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(clock=clock, **known)


def _merge(reset: int | None, remaining: int | None, new_reset: int, new_remaining: int
           ) -> tuple[int | None, int | None]:
    """Keep the newest window; within one window the lowest remaining count wins."""
    if reset is None or remaining is None or new_reset > reset:
        return new_reset, new_remaining
    if new_reset == reset:
        return reset, min(remaining, new_remaining)
    return reset, remaining  # an answer from an older window arrived late
