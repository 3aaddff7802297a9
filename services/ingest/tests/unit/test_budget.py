"""The shared call budget: never a 429 against Exact's fixed windows, whatever its clock,
the whole minutely budget used, daily and error budgets turned into waits."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import pytest

from ingest.adapters.rate_headers import parse_rate_headers
from ingest.domain.budget import FAR_BLOCK, Budget, Go, RateHeaders, ServerClock, Spent, Wait

W = 60_000


@dataclass
class SimExact:
    """Exact's limiter: fixed minute windows of its own clock (offset and speed vs ours)."""

    limit: int
    speed: float = 1.0
    offset_ms: int = 0
    daily: int = 1_000_000
    used: Counter[int] = field(default_factory=Counter)
    day_used: Counter[int] = field(default_factory=Counter)
    answered_429: int = 0

    def server(self, local_ms: float) -> int:
        return int(self.offset_ms + self.speed * local_ms)

    def call(self, local_ms: float) -> tuple[int, RateHeaders]:
        now = self.server(local_ms)
        window, day = now // W, now // 86_400_000
        if self.day_used[day] >= self.daily:
            self.answered_429 += 1
            return 429, RateHeaders(daily_limit=self.daily, daily_remaining=0,
                                    daily_reset_ms=(day + 1) * 86_400_000)
        if self.used[window] >= self.limit:
            self.answered_429 += 1
            return 429, RateHeaders(minutely_limit=self.limit, minutely_remaining=0,
                                    minutely_reset_ms=(window + 1) * W)
        self.used[window] += 1
        self.day_used[day] += 1
        return 200, RateHeaders(self.limit, self.limit - self.used[window], (window + 1) * W,
                                self.daily, self.daily - self.day_used[day],
                                (day + 1) * 86_400_000)


def drive(sim: SimExact, calls: int, *, latency_ms: float = 40.0, start_ms: float = 5_000_000.0,
          clients: int = 1) -> tuple[float, Budget]:
    """Make ``calls`` successful calls through one shared Budget; returns the local time taken."""
    budget = Budget()
    clock = [start_ms] * clients  # each client's next moment
    done = 0
    pending: list[tuple[float, float, int]] = []  # (received, sent, client)
    while done < calls:
        i = min(range(clients), key=lambda k: clock[k])
        t = clock[i]
        # answers arriving before this moment are observed first
        for received, sent, _ in sorted(p for p in pending if p[0] <= t):
            status, headers = sim.call((sent + received) / 2)
            budget.observe(int(sent), int(received), "e", status, headers)
            if status == 200:
                done += 1
        pending = [p for p in pending if p[0] > t]
        decision = budget.decide(int(t), "e", default_limit=60, error_budget=8,
                                 stale_after_ms=120_000)
        if isinstance(decision, Go):
            pending.append((t + latency_ms, t, i))
            clock[i] = t + latency_ms + 0.001
        elif isinstance(decision, Wait):
            clock[i] = t + max(1.0, decision.seconds * 1000)
        else:
            raise AssertionError(f"unexpected {decision}")
    return max(clock) - start_ms, budget


@pytest.mark.parametrize("limit,speed,offset_ms", [
    (60, 1.0, 0), (60, 1.0, 17_345), (10, 1.0, 59_990), (10, 30.0, 12_000), (30, 60.0, -4_567_000),
])
def test_no_429_and_the_whole_minute_is_used(limit: int, speed: float, offset_ms: int) -> None:
    sim = SimExact(limit=limit, speed=speed, offset_ms=offset_ms)
    calls = limit * 5
    elapsed, _ = drive(sim, calls)
    assert sim.answered_429 == 0
    assert max(sim.used.values()) <= limit
    windows_local = W / speed
    bound = (math.ceil(calls / limit) - 1) * windows_local  # fixed windows: the best possible
    # about two windows lost at the start (phase unknown); a faster clock must be learned first
    assert elapsed <= bound + (2.2 if speed == 1 else 4.5) * windows_local


def test_replicas_sharing_the_budget_stay_under_the_limit() -> None:
    sim = SimExact(limit=20, offset_ms=31_000)
    drive(sim, 100, clients=4, latency_ms=300)
    assert sim.answered_429 == 0 and max(sim.used.values()) <= 20


def test_calls_are_spread_over_the_window_not_burst() -> None:
    sim = SimExact(limit=60, offset_ms=0)
    budget = Budget()
    t = 1_000_000
    budget.observe(t, t + 10, "e", 200, sim.call(t)[1])  # phase known: at a window start
    gaps = []
    last = t
    for _ in range(20):
        while not isinstance(d := budget.decide(t, "e", default_limit=60, error_budget=8,
                                                stale_after_ms=10**6), Go):
            assert isinstance(d, Wait)
            t += max(1, int(d.seconds * 1000))
        gaps.append(t - last)
        last = t
        budget.observe(t, t + 10, "e", 200, sim.call(t + 5)[1])
        t += 10
    # front-loaded (an eighth of the even spacing) but never a burst
    assert min(gaps[1:]) >= 100


def test_a_spent_minute_waits_for_the_reset_the_headers_give() -> None:
    budget = Budget()
    budget.observe(1000, 1100, "e", 429, RateHeaders(minutely_limit=60, minutely_remaining=0,
                                                     minutely_reset_ms=120_000))
    decision = budget.decide(1200, "e", default_limit=60, error_budget=8, stale_after_ms=10**6)
    assert isinstance(decision, Wait)
    assert 60 <= decision.seconds <= 61  # worst case: the answer came at the window's start


def test_a_spent_day_is_a_long_wait_for_the_daily_reset() -> None:
    budget = Budget()
    budget.observe(0, 50, "e", 200, RateHeaders(60, 59, 60_000, 5000, 0, 86_400_000))
    decision = budget.decide(100, "e", default_limit=60, error_budget=8, stale_after_ms=10**6)
    assert isinstance(decision, Spent) and decision.kind == "daily"
    assert 86_340 <= decision.seconds <= 86_401


def test_a_caller_stops_at_the_reserve_it_must_leave_while_others_go_on() -> None:
    budget = Budget()
    budget.observe(0, 50, "e", 200, RateHeaders(60, 59, 60_000, 5000, 500, 86_400_000))
    initial = budget.decide(100, "e", default_limit=60, error_budget=8, stale_after_ms=10**6,
                            reserve=0.1)
    assert isinstance(initial, Spent) and initial.kind == "daily"
    assert "500 calls kept for its syncs" in initial.reason
    sync = budget.decide(100, "e", default_limit=60, error_budget=8, stale_after_ms=10**6,
                         reserve=0.01)
    assert isinstance(sync, Go)


def test_the_error_budget_pauses_an_endpoint_before_exact_blocks_it() -> None:
    budget = Budget()
    for n in range(8):
        budget.observe(n, n + 1, "sync/x", 401, None)
    decision = budget.decide(100, "sync/x", default_limit=60, error_budget=8, stale_after_ms=10**6)
    assert isinstance(decision, Spent) and decision.kind == "error_budget"
    assert isinstance(budget.decide(100, "other", default_limit=60, error_budget=8,
                                    stale_after_ms=10**6), Go)
    later = budget.decide(3_700_000, "sync/x", default_limit=60, error_budget=8,
                          stale_after_ms=1000)
    assert isinstance(later, Go)


def test_a_caller_that_died_does_not_hold_the_budget_forever() -> None:
    budget = Budget()
    assert isinstance(budget.decide(0, "e", default_limit=60, error_budget=8,
                                    stale_after_ms=1000), Go)
    assert isinstance(budget.decide(10, "e", default_limit=60, error_budget=8,
                                    stale_after_ms=1000), Wait)  # first answer not in yet
    assert isinstance(budget.decide(2000, "e", default_limit=60, error_budget=8,
                                    stale_after_ms=1000), Go)


def test_a_call_left_in_flight_when_the_window_ended_does_not_hold_up_the_next() -> None:
    budget = Budget()
    budget.observe(0, 50, "e", 200, RateHeaders(600, 500, 60_000))
    assert isinstance(budget.decide(59_000, "e", default_limit=600, error_budget=8,
                                    stale_after_ms=65_000), Go)  # its replica dies: no answer
    # the next window: not a minute's wait for the dead replica's permit to go stale
    assert isinstance(budget.decide(61_000, "e", default_limit=600, error_budget=8,
                                    stale_after_ms=65_000), Go)


def test_the_server_clock_is_a_lower_bound_that_learns_speed() -> None:
    clock = ServerClock()
    speed, offset = 20.0, 7_000_000
    for local in range(0, 20_000, 500):
        server = offset + speed * (local + 5)
        clock.observe(local, local + 10, int((server // W + 1) * W))
        floor = clock.floor(local + 10)
        assert floor is not None and floor <= offset + speed * (local + 10)
    assert clock.speed > 15
    assert offset + speed * 20_000 - clock.floor(20_000) < W  # type: ignore[operator]


def test_a_clock_set_back_starts_a_new_estimate() -> None:
    clock = ServerClock()
    clock.observe(0, 10, 600_000)
    clock.observe(100, 110, 120_000)  # Exact's time is now far before what we thought
    assert clock.floor(110) == 60_000


def test_the_budget_survives_its_storage_form() -> None:
    budget = Budget()
    budget.observe(0, 50, "e", 200, RateHeaders(60, 59, 60_000, 5000, 4999, 86_400_000))
    budget.observe(60, 70, "e", 404, None)
    again = Budget.from_dict(budget.to_dict())
    assert again == budget


def test_a_clock_that_jumps_back_does_not_leave_a_stale_pacing_wait() -> None:
    budget = Budget()
    fast = SimExact(limit=60, speed=60.0)
    t = 1_000_000
    for _ in range(30):  # learn a fast clock
        while not isinstance(budget.decide(t, "e", default_limit=60, error_budget=8,
                                           stale_after_ms=10**6), Go):
            t += 5
        budget.observe(t, t + 5, "e", 200, fast.call(t)[1])
        t += 10
    assert budget.clock.speed > 10
    slow = SimExact(limit=10**6, speed=1.0, offset_ms=fast.server(t) - 3_600_000 - t)
    budget.observe(t, t + 5, "e", 200, slow.call(t)[1])  # the clock now runs at real speed
    assert isinstance(budget.decide(t + 10, "e", default_limit=60, error_budget=8,
                                    stale_after_ms=10**6), Go)


def test_a_date_header_that_agrees_with_the_reset_places_the_window() -> None:
    budget = Budget()
    headers = parse_rate_headers({"X-RateLimit-Minutely-Limit": "60",
                                  "X-RateLimit-Minutely-Remaining": "0",
                                  "X-RateLimit-Minutely-Reset": "1740996060000",
                                  "Date": "Mon, 03 Mar 2025 10:00:50 GMT"})
    assert headers.date_ms == 1740996050000
    budget.observe(1000, 1100, "e", 200, headers)
    decision = budget.decide(1200, "e", default_limit=60, error_budget=8, stale_after_ms=10**6)
    assert isinstance(decision, Wait) and 9 < decision.seconds < 10.5  # not a whole minute


def test_a_date_header_from_another_clock_is_ignored() -> None:
    clock = ServerClock()
    clock.observe(0, 10, 120_000, date_ms=10**12)  # real time, far from this (sandbox) clock
    assert clock.floor(10) == 60_000


def permits_in_blocks(sim: SimExact, calls: int, size: int, *, latency_ms: int = 5,
                      gap_ms: int = 1) -> list[int]:
    """Make ``calls`` calls taking blocks of ``size`` permits, each block decided once, its
    answers taken in with the next decision and its permits unused by the block's end given
    back (as the PostgreSQL limiter does); returns how many calls each block made."""
    budget, t, blocks = Budget(), 5_000_000, []
    answers: list[tuple[int, int, str, int | None, RateHeaders | None]] = []
    unused: tuple[int | None, int] | None = None
    while sum(blocks) < calls:
        if unused is not None:
            budget.give_back(*unused)
        for answer in answers:
            budget.observe(*answer)
        answers, unused = [], None
        decision = budget.decide(t, "e", default_limit=60, error_budget=8, stale_after_ms=120_000)
        if not isinstance(decision, Go):
            t += int(decision.seconds * 1000) + 1
            continue
        granted = 1 + budget.block(t, "e", size)
        window, ends = budget.window_reset_ms, budget.block_ends_ms(t)
        assert budget.in_flight <= (budget.window_remaining or 1)  # never beyond the window
        made = 0
        while made < granted and (made == 0 or t < ends):
            status, headers = sim.call(t + latency_ms / 2)
            answers.append((t, t + latency_ms, "e", status, headers))
            t += latency_ms + gap_ms
            made += 1
        if made < granted:
            unused = (window, granted - made)
        blocks.append(made)
    return blocks


def test_permits_go_in_blocks_only_while_the_window_has_plenty_of_room() -> None:
    sim = SimExact(limit=1_000, offset_ms=1_000)
    blocks = permits_in_blocks(sim, 2_000, size=8)
    assert sim.answered_429 == 0 and max(sim.used.values()) <= 1_000
    assert blocks[0] == 1  # the window is not known before the first answer
    assert 8 in blocks  # far from the limit: one decision for eight calls
    assert 1 in blocks[1:]  # near the end of a window: one call at a time again


def test_far_from_every_limit_a_block_holds_more_permits() -> None:
    sim = SimExact(limit=1_000_000, offset_ms=1_000)
    blocks = permits_in_blocks(sim, 500, size=8)
    assert sim.answered_429 == 0
    assert blocks[0] == 1 and set(blocks[1:-1]) == {FAR_BLOCK}
    budget = Budget()
    budget.observe(0, 10, "e", 200, RateHeaders(1_000_000, 999_999, 60_000, 5_000, 1_000,
                                                 86_400_000))
    budget.decide(20, "e", default_limit=60, error_budget=8, stale_after_ms=10**6)
    assert budget.block(20, "e", 8) == 7  # the day's 1,000 calls are not far from a limit


@pytest.mark.parametrize("offset_ms", [1_000, 30_000, 57_000])
@pytest.mark.parametrize("latency_ms,gap_ms", [(5, 1), (300, 200)])
def test_at_exacts_real_limit_blocks_go_while_the_window_has_room(
        offset_ms: int, latency_ms: int, gap_ms: int) -> None:
    sim = SimExact(limit=60, offset_ms=offset_ms)
    blocks = permits_in_blocks(sim, 300, size=4, latency_ms=latency_ms, gap_ms=gap_ms)
    assert sim.answered_429 == 0 and max(sim.used.values()) <= 60
    assert 4 in blocks  # one decision for four calls while the minute has room
    assert 1 in blocks[1:]  # the minute's last calls are decided one at a time
    assert len(blocks) < 300 / 2  # far fewer decisions than calls


def test_a_block_leaves_the_windows_last_calls_to_single_decisions() -> None:
    budget = Budget()
    budget.observe(0, 10, "e", 200, RateHeaders(60, 59, 60_000, 5_000, 4_999, 86_400_000))
    assert isinstance(budget.decide(20, "e", default_limit=60, error_budget=8,
                                     stale_after_ms=10**6), Go)
    assert budget.block(20, "e", 4) == 3 and budget.in_flight == 4
    budget.in_flight, budget.window_remaining = 1, 13  # 12 left once this call is counted
    assert budget.block(20, "e", 4) == 0  # 4 + 10 more would not fit
    budget.window_remaining = 60
    assert budget.block(51_000, "e", 4) == 0  # under ten seconds of the window left


def test_a_blocks_permits_are_used_only_until_five_seconds_before_the_reset() -> None:
    budget = Budget()
    budget.observe(0, 10, "e", 200, RateHeaders(60, 59, 60_000, 5_000, 4_999, 86_400_000))
    floor = budget.clock.floor(1_000)
    assert floor is not None
    assert budget.block_ends_ms(1_000) == 1_000 + (55_000 - floor)


def test_unused_permits_are_given_back_only_in_their_own_window() -> None:
    budget = Budget()
    budget.observe(0, 10, "e", 200, RateHeaders(60, 59, 60_000, 5_000, 4_999, 86_400_000))
    budget.in_flight = 5
    budget.give_back(60_000, 3)
    assert budget.in_flight == 2
    budget.give_back(0, 2)  # counted in a window that has ended: the new one started at 0
    assert budget.in_flight == 2
