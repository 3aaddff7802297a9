"""Seeded users, divisions and roles (the README documents each one).

Every case the connector must handle has an account here: an administrator of one division,
one of several divisions, a user without the administrator role, a second administrator of the
same division, an administrator with a large dataset, and one account per other instance.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass, field

_NS = uuid.UUID("6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e")

ROLE_ADMINISTRATOR = 1
ROLE_FINANCIAL_USER = 20
ROLE_NAMES = {ROLE_ADMINISTRATOR: "Administrator", ROLE_FINANCIAL_USER: "Financial user"}
ROLE_READS: dict[int, tuple[str, ...]] = {
    ROLE_FINANCIAL_USER: ("financial", "sync/Financial", "bulk/Financial", "budget/",
                          "hrm/Cost", "system/Divisions"),
}
"""What a role other than administrator may read (UserHasRights with action GET): prefixes of
the resources. A financial user cannot read CRM accounts, for instance."""
ROLE_LEVEL_DIVISION = 3

INSTANCE_HOSTS = {
    "NL": "start.exactonline.nl",
    "BE": "start.exactonline.be",
    "DE": "start.exactonline.de",
    "UK": "start.exactonline.co.uk",
    "US": "start.exactonline.com",
    "ES": "start.exactonline.es",
    "FR": "start.exactonline.fr",
}


def stable_guid(name: str) -> str:
    return str(uuid.uuid5(_NS, name))


@dataclass(frozen=True)
class Division:
    code: int
    description: str
    customer_name: str
    country: str
    currency: str
    instance: str
    transaction_lines: int
    is_main: bool = False
    hid: int = 0
    vat_number: str = ""
    start_year: int = 2022
    years: int = 4

    @property
    def customer_id(self) -> str:
        return stable_guid(f"customer:{self.customer_name}")

    @property
    def customer_code(self) -> str:
        return f"{zlib.crc32(self.customer_name.encode()) % 100000:>18}"


@dataclass(frozen=True)
class User:
    username: str
    password: str
    full_name: str
    instance: str
    current_division: int
    # division code -> role ids the user holds there
    roles: dict[int, tuple[int, ...]] = field(default_factory=dict)
    language: str = "nl-NL"
    demonstrates: str = ""

    @property
    def user_id(self) -> str:
        return stable_guid(f"user:{self.username}")

    @property
    def email(self) -> str:
        return self.username

    @property
    def divisions(self) -> tuple[int, ...]:
        return tuple(sorted(self.roles))


ADMIN = (ROLE_ADMINISTRATOR,)
_FIN = (ROLE_FINANCIAL_USER,)

DIVISIONS: tuple[Division, ...] = (
    Division(100001, "Bakkerij De Molen B.V.", "Bakkerij De Molen", "NL", "EUR", "NL", 2_000,
             is_main=True, hid=1, vat_number="NL001234567B01"),
    Division(200001, "Van Dijk Holding B.V.", "Van Dijk Groep", "NL", "EUR", "NL", 1_000,
             is_main=True, hid=1, vat_number="NL002345678B01"),
    Division(200002, "Van Dijk Retail B.V.", "Van Dijk Groep", "NL", "EUR", "NL", 3_000,
             hid=2, vat_number="NL002345678B02"),
    Division(200003, "Van Dijk Vastgoed B.V.", "Van Dijk Groep", "NL", "EUR", "NL", 10,
             hid=3, vat_number="NL002345678B03"),
    Division(300001, "Grootboek Data B.V.", "Grootboek Groep", "NL", "EUR", "NL", 100_000,
             is_main=True, hid=1, vat_number="NL003456789B01"),
    Division(300002, "Grootboek Archief B.V.", "Grootboek Groep", "NL", "EUR", "NL", 5_000_000,
             hid=2, vat_number="NL003456789B02"),
    Division(410001, "Frituur Lucas BV", "Frituur Lucas", "BE", "EUR", "BE", 500,
             is_main=True, hid=1, vat_number="BE0123456789"),
    Division(420001, "Bäckerei Lena GmbH", "Bäckerei Lena", "DE", "EUR", "DE", 500,
             is_main=True, hid=1, vat_number="DE123456789"),
    Division(430001, "Oliver Tea Ltd", "Oliver Tea", "GB", "GBP", "UK", 500,
             is_main=True, hid=1, vat_number="GB123456789"),
    Division(440001, "Emma Goods Inc", "Emma Goods", "US", "USD", "US", 500,
             is_main=True, hid=1),
    Division(450001, "Sofía Cerámica SL", "Sofía Cerámica", "ES", "EUR", "ES", 500,
             is_main=True, hid=1, vat_number="ESB12345678"),
    Division(460001, "Louis Vins SARL", "Louis Vins", "FR", "EUR", "FR", 500,
             is_main=True, hid=1, vat_number="FR12345678901"),
)

USERS: tuple[User, ...] = (
    User("anna.admin@demo.nl", "demo-anna", "Anna de Vries", "NL", 100001, {100001: ADMIN},
         demonstrates="administrator of one division"),
    User("bram.admin@demo.nl", "demo-bram", "Bram Jansen", "NL", 100001, {100001: ADMIN},
         demonstrates="second administrator of the same division (recreate by another person)"),
    User("carla.user@demo.nl", "demo-carla", "Carla Bakker", "NL", 100001, {100001: _FIN},
         demonstrates="has access to the division but not the administrator role"),
    User("dirk.multi@demo.nl", "demo-dirk", "Dirk van Dijk", "NL", 200002,
         {200001: ADMIN, 200002: ADMIN, 200003: ADMIN},
         demonstrates="administrator of several divisions (current division 200002)"),
    User("eva.large@demo.nl", "demo-eva", "Eva Smit", "NL", 300001,
         {300001: ADMIN, 300002: ADMIN},
         demonstrates="administrator of a 100,000-line and a 5,000,000-line division"),
    User("lucas@demo.be", "demo-be", "Lucas Peeters", "BE", 410001, {410001: ADMIN},
         language="nl-BE", demonstrates="account on the Belgian instance"),
    User("lena@demo.de", "demo-de", "Lena Müller", "DE", 420001, {420001: ADMIN},
         language="de-DE", demonstrates="account on the German instance"),
    User("oliver@demo.co.uk", "demo-uk", "Oliver Smith", "UK", 430001, {430001: ADMIN},
         language="en-GB", demonstrates="account on the UK instance"),
    User("emma@demo.com", "demo-us", "Emma Johnson", "US", 440001, {440001: ADMIN},
         language="en-US", demonstrates="account on the US instance"),
    User("sofia@demo.es", "demo-es", "Sofía García", "ES", 450001, {450001: ADMIN},
         language="es-ES", demonstrates="account on the Spanish instance"),
    User("louis@demo.fr", "demo-fr", "Louis Martin", "FR", 460001, {460001: ADMIN},
         language="fr-FR", demonstrates="account on the French instance"),
)
