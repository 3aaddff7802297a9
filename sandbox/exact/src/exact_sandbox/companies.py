"""Many-companies mode: N generated companies, each with its own administrator.

A company (division) and its administrator are pure functions of ``(seed, code)``, built when
asked for and never stored, so a sandbox can serve thousands of companies without holding
them. Codes run from ``first_code`` to ``first_code + count - 1``; the administrator of code
``C`` signs in as ``admin.C@companies.sandbox`` with password ``company-C``. Ledger sizes
vary deterministically around ``rows`` (between half and one and a half times it), as real
companies differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from exact_sandbox.ids import derive_key
from exact_sandbox.seed import ROLE_ADMINISTRATOR, Division, User

K = TypeVar("K")
V = TypeVar("V")

_USERNAME = re.compile(r"admin\.(\d+)@companies\.sandbox")


@dataclass(frozen=True)
class Companies:
    """The generated companies of one sandbox run."""

    seed: int
    count: int
    rows: int
    first_code: int

    def __contains__(self, code: object) -> bool:
        return isinstance(code, int) and self.first_code <= code < self.first_code + self.count

    @property
    def codes(self) -> range:
        return range(self.first_code, self.first_code + self.count)

    def division(self, code: int) -> Division:
        if code not in self:
            raise KeyError(code)
        # a size of 1 is not a valid ledger (entries balance in pairs): keep 0 or >= 2
        spread = derive_key(self.seed, code, "company-rows") % (self.rows + 1)
        lines = self.rows // 2 + spread
        return Division(code, f"Company {code} B.V.", f"Company {code}", "NL", "EUR", "NL",
                        lines if lines != 1 else 2, is_main=True, hid=1,
                        vat_number=f"NL{code:09d}B01")

    def user(self, username: str) -> User | None:
        found = _USERNAME.fullmatch(username.strip().lower())
        if found is None or int(found.group(1)) not in self:
            return None
        code = int(found.group(1))
        return User(f"admin.{code}@companies.sandbox", f"company-{code}",
                    f"Administrator {code}", "NL", code, {code: (ROLE_ADMINISTRATOR,)},
                    demonstrates="administrator of one generated company")

    def admin_of(self, code: int) -> User:
        user = self.user(f"admin.{code}@companies.sandbox")
        if user is None:
            raise KeyError(code)
        return user


class _WithGenerated(Mapping[K, V]):
    """Fixed entries plus generated ones, looked up without storing the generated ones."""

    def __init__(self, fixed: dict[K, V], find: Callable[[K], V | None],
                 keys: Callable[[], Iterable[K]]) -> None:
        self._fixed = fixed
        self._find = find
        self._keys = keys

    def __getitem__(self, key: K) -> V:
        found = self._fixed.get(key)
        if found is None:
            found = self._find(key)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[K]:
        yield from self._fixed
        yield from (k for k in self._keys() if k not in self._fixed)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def division_map(fixed: dict[int, Division], companies: Companies | None
                 ) -> Mapping[int, Division]:
    """The seeded divisions plus the generated companies."""
    if companies is None:
        return _WithGenerated(fixed, lambda _code: None, tuple)
    return _WithGenerated(
        fixed, lambda code: companies.division(code) if code in companies else None,
        lambda: companies.codes)


def user_map(fixed: dict[str, User], companies: Companies | None) -> Mapping[str, User]:
    """Seeded users by lower-case username, plus each generated company's administrator."""
    if companies is None:
        return _WithGenerated(fixed, lambda _name: None, tuple)
    return _WithGenerated(fixed, companies.user,
                          lambda: (f"admin.{c}@companies.sandbox" for c in companies.codes))
