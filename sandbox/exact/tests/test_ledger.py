"""The generated ledger: balanced entries, determinism, odd sizes, lazy by index."""

from __future__ import annotations

from collections import defaultdict

import pytest

from exact_sandbox.config import SandboxConfig
from exact_sandbox.directory import Directory
from exact_sandbox.ledger import Ledger
from exact_sandbox.masterdata import MasterData


def _ledger(size: int, seed: int = 1, code: int = 300001) -> Ledger:
    division = Directory(SandboxConfig(division_sizes={code: size})).divisions[code]
    return Ledger(seed, MasterData(seed, division))


@pytest.mark.parametrize("size", [10, 16, 17, 18, 33, 2_000, 20_001])
def test_every_entry_sums_to_zero_and_sizes_are_exact(size: int) -> None:
    led = _ledger(size)
    sums: dict[str, int] = defaultdict(int)
    lines: dict[str, list[int]] = defaultdict(list)
    count = 0
    for _i, ent, j, _gl, cents, _cc, _cu in led.raw(0, size):
        sums[ent[0]] += cents
        lines[ent[0]].append(j)
        count += 1
        assert cents != 0
    assert count == size
    assert all(v == 0 for v in sums.values())
    assert all(sorted(v) == list(range(len(v))) and len(v) >= 2 for v in lines.values())


def test_rows_are_deterministic_per_seed_and_independent_of_the_page_start() -> None:
    a, b, other = _ledger(5_000), _ledger(5_000), _ledger(5_000, seed=2)
    page = list(a.rows(1234, 1300))
    assert page == list(b.rows(1234, 1300))
    assert page != list(other.rows(1234, 1300))
    for offset, (i, row) in enumerate(page):
        assert list(a.rows(i, i + 1)) == [page[offset]] == [(i, row)]


def test_ids_resolve_back_to_their_row_index() -> None:
    led = _ledger(5_000_000)
    for i in (0, 1, 4_999_999, 2_500_000):
        (_idx, row), = led.rows(i, i + 1)
        assert led.index_of_id(row[0][1:-1]) == i
    assert led.index_of_id("00000000-0000-4000-8000-000000000000") is None


def test_dates_rise_with_the_index_so_filters_can_bisect() -> None:
    led = _ledger(50_000)
    created = [led.created_ms_of(i) for i in range(0, 50_000, 97)]
    assert created == sorted(created)
    years = {led.day_year[led.day_of(i)] for i in range(0, 50_000, 1000)}
    assert years == {2022, 2023, 2024, 2025}


def test_a_five_million_row_ledger_is_not_materialised() -> None:
    led = _ledger(5_000_000)
    rows = list(led.rows(4_999_000, 5_000_000))
    assert len(rows) == 1000 and rows[-1][0] == 4_999_999
    assert not any(isinstance(v, list) and len(v) > 10_000 for v in vars(led).values())


def test_any_page_boundary_yields_the_same_rows() -> None:
    led = _ledger(3_001)
    whole = list(led.rows(0, 3_001))
    chunked = [row for start in range(0, 3_001, 7) for row in led.rows(start, start + 7)]
    assert chunked == whole
