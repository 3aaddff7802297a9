"""Users and divisions of one sandbox run: the seeded ones with the config's size overrides,
Eva's extra divisions, and (many-companies mode) the generated companies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from exact_sandbox.companies import Companies, division_map, user_map
from exact_sandbox.config import SandboxConfig
from exact_sandbox.seed import ADMIN, DIVISIONS, USERS, Division, User


class Directory:
    def __init__(self, config: SandboxConfig) -> None:
        self.instance = config.instance
        self.admin_role_ids = config.admin_role_ids
        divisions = {
            d.code: _resize(d, config.division_sizes.get(d.code)) for d in DIVISIONS
        }
        users = {u.username.lower(): u for u in USERS}
        eva = users["eva.large@demo.nl"]
        extra_roles = dict(eva.roles)
        for i, (code, size) in enumerate(sorted(config.extra_divisions.items())):
            divisions[code] = Division(code, f"Sandbox Extra {code} B.V.", "Grootboek Groep",
                                       "NL", "EUR", "NL", size, hid=10 + i)
            extra_roles[code] = ADMIN
        users[eva.username] = User(eva.username, eva.password, eva.full_name, eva.instance,
                                   eva.current_division, extra_roles,
                                   demonstrates=eva.demonstrates)
        many = config.companies
        self.companies: Companies | None = (
            Companies(config.seed, many.count, many.rows, many.first_code)
            if many.count else None)
        self._fixed_users = users
        self.divisions: Mapping[int, Division] = division_map(divisions, self.companies)
        self.users: Mapping[str, User] = user_map(users, self.companies)

    def authenticate(self, username: str, password: str) -> User | None:
        """A user of another instance has no account here: same failure as an unknown user."""
        user = self.users.get(username.strip().lower())
        if user is None or user.instance != self.instance or user.password != password:
            return None
        return user

    def users_of_division(self, code: int) -> list[User]:
        found = [u for u in self._fixed_users.values() if code in u.roles]
        if self.companies is not None and code in self.companies:
            found.append(self.companies.admin_of(code))
        return found

    def is_admin(self, user: User, division: int) -> bool:
        return any(r in self.admin_role_ids for r in user.roles.get(division, ()))


def _resize(division: Division, size: int | None) -> Division:
    if size is None:
        return division
    return replace(division, transaction_lines=size)
