"""The REST resources the sandbox serves, and the per-user tables (Me, divisions, roles).

Paths are matched case-sensitively, as Exact's are reported to be (`hrm/Costcenters` works,
`hrm/CostCenters` is a 404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from exact_sandbox.dataset import BaseTable, Row
from exact_sandbox.directory import Directory
from exact_sandbox.ids import GuidCodec
from exact_sandbox.schema import (
    DELETED,
    DIVISIONS,
    HRM_DIVISIONS,
    ME,
    USER_ROLES,
    date_ms,
    enc_bool,
    enc_date,
    enc_guid,
    enc_str,
)
from exact_sandbox.seed import (
    ROLE_LEVEL_DIVISION,
    ROLE_NAMES,
    ROLE_READS,
    Division,
    User,
)


@dataclass(frozen=True)
class Resource:
    entity: str
    mode: str  # sync, bulk, regular
    sync_twin: bool = False


RESOURCES: dict[str, Resource] = {
    "sync/Financial/TransactionLines": Resource("TransactionLines", "sync"),
    "sync/Financial/GLAccounts": Resource("GLAccounts", "sync"),
    "sync/Financial/GLClassifications": Resource("GLClassifications", "sync"),
    "sync/CRM/Accounts": Resource("Accounts", "sync"),
    "sync/Cashflow/PaymentTerms": Resource("PaymentTerms", "sync"),
    "sync/Deleted": Resource("Deleted", "sync"),
    "bulk/Financial/TransactionLines": Resource("TransactionLines", "bulk"),
    "bulk/Financial/GLAccounts": Resource("GLAccounts", "bulk"),
    "bulk/Financial/GLClassifications": Resource("GLClassifications", "bulk"),
    "bulk/CRM/Accounts": Resource("Accounts", "bulk"),
    # the regular TransactionLines endpoint (PQ TransactionLine.php $url)
    "financialtransaction/TransactionLines": Resource("TransactionLines", "regular",
                                                      sync_twin=True),
    "financial/GLAccounts": Resource("GLAccounts", "regular", sync_twin=True),
    "financial/GLClassifications": Resource("GLClassifications", "regular", sync_twin=True),
    "crm/Accounts": Resource("Accounts", "regular", sync_twin=True),
    "financial/Journals": Resource("Journals", "regular"),
    "financial/FinancialPeriods": Resource("FinancialPeriods", "regular"),
    "financial/ReportingBalance": Resource("ReportingBalance", "regular"),
    "budget/Budgets": Resource("Budgets", "regular"),
    "hrm/Costcenters": Resource("CostCenters", "regular"),
    "hrm/Costunits": Resource("CostUnits", "regular"),
    "financial/GLAccountClassificationMappings": Resource("GLAccountClassificationMappings",
                                                         "regular"),
    "system/Divisions": Resource("Divisions", "regular"),
    "system/AllDivisions": Resource("AllDivisions", "regular"),
    "hrm/Divisions": Resource("HrmDivisions", "regular"),
    "users/UserRolesPerDivision": Resource("UserRolesPerDivision", "regular"),
}
FUNCTIONS = ("users/UserHasRights",)


def _division_row(d: Division) -> Row:
    return (str(d.code), enc_str(d.description), str(d.hid), enc_str(d.country),
            enc_str(d.currency), enc_str(d.vat_number or None), enc_bool(d.is_main), "1",
            enc_guid(d.customer_id), enc_str(d.customer_code), enc_str(d.customer_name),
            "null")


def divisions_table(directory: Directory, user: User, granted: tuple[int, ...],
                    kind: str, url_division: int) -> BaseTable:
    """system/Divisions, system/AllDivisions, hrm/Divisions: only divisions granted to the app."""
    divs = [directory.divisions[c] for c in granted if c in directory.divisions]
    if kind == "AllDivisions":
        owner = directory.divisions[url_division].customer_name
        divs = [d for d in divs if d.customer_name == owner]
    if kind == "HrmDivisions":
        rows: list[Row] = [(str(d.code), enc_str(d.description), str(d.hid), enc_str(d.country),
                 enc_str(d.currency), enc_str(d.vat_number or None), enc_bool(d.is_main), "0",
                 enc_guid(d.customer_id), enc_str(d.customer_name)) for d in divs]
        return BaseTable(HRM_DIVISIONS, rows)
    return BaseTable(DIVISIONS, [_division_row(d) for d in divs])


def roles_table(directory: Directory, division: int) -> BaseTable:
    codec = GuidCodec(0, division, "roles")
    started = enc_date(date_ms(date(directory.divisions[division].start_year - 1, 12, 1)))
    rows: list[Row] = []
    for user in directory.users_of_division(division):
        if user.instance != directory.instance:
            continue
        for role in user.roles[division]:
            rows.append((enc_guid(codec.encode(len(rows))), enc_guid(user.user_id), str(role),
                         enc_str(ROLE_NAMES.get(role, str(role))), str(ROLE_LEVEL_DIVISION),
                         started, "null", str(division)))
    return BaseTable(USER_ROLES, rows)


def me_table(directory: Directory, user: User, now: float) -> BaseTable:
    d = directory.divisions[user.current_division]
    row = (enc_guid(user.user_id), str(user.current_division), str(user.current_division),
           enc_str(user.username), enc_str(user.full_name), enc_str(user.email),
           enc_str(user.language), enc_guid(d.customer_id),
           enc_str(d.customer_code), enc_str(d.customer_name), "false")
    return BaseTable(ME, [row])


def user_has_rights(directory: Directory, user: User, division: int, endpoint: str,
                    action: str) -> bool:
    """By the user's roles in the division: administrators may do anything on every resource;
    a role in ROLE_READS may GET the resources under its prefixes; nothing else."""
    if endpoint not in RESOURCES or division not in user.roles:
        return False
    if directory.is_admin(user, division):
        return True
    return action == "GET" and any(endpoint.startswith(prefix)
                                   for role in user.roles[division]
                                   for prefix in ROLE_READS.get(role, ()))


def deleted_table(rows: list[Row]) -> BaseTable:
    return BaseTable(DELETED, rows)
