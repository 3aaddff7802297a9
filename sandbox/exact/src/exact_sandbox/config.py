"""Typed configuration of one sandbox run.

Defaults are Exact Online's real values (EXACT_API.md); tests and benchmarks raise the limits.
Everything here can also come from a JSON file (`SandboxConfig.from_dict`) or CLI flags.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AppRegistration:
    """An app registered in the (simulated) App Center: exact redirect URIs only."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str = "Sandbox app"
    # The app's webhook secret, shown in Exact's App Center beside the client secret: the key of
    # the HashCode HMAC on every webhook delivery (picqer Webhook/Authenticatable.php).
    webhook_secret: str = ""


@dataclass
class Limits:
    minutely: int = 60
    daily: int = 5000
    # Optional second daily budget per company summed over all apps (None = off).
    company_daily: int | None = None
    error_budget: int = 10
    error_window_s: int = 3600
    error_block_s: int = 3600
    token_daily: int = 200
    access_token_lifetime_s: int = 600
    # A new access token may be obtained only when the current one has at most this much left.
    refresh_window_s: int = 30
    refresh_token_lifetime_s: int = 30 * 86400
    code_lifetime_s: int = 180
    page_size_regular: int = 60
    page_size_bulk: int = 1000
    day_seconds: int = 86400
    """Length of the daily window in sandbox seconds. Exact's is a UTC day; a shorter one lets a
    benchmark pass a day of budget in minutes while the minute (and so the pace of calls that
    a machine can serve for many companies) stays real."""


@dataclass
class FaultSettings:
    """Injected faults. Rates are probabilities per call, decided by a seeded hash."""

    seed: int = 1
    error_5xx_rate: float = 0.0
    error_5xx_status: int = 500
    latency_ms: int = 0
    timeout_rate: float = 0.0
    hang_seconds: float = 300.0
    malformed_json_rate: float = 0.0
    drop_rate: float = 0.0
    revoke_after_calls: int | None = None
    unauthorized_rate: float = 0.0
    unauthorized_next: int = 0
    # Scope: None = every division / endpoint. Endpoints match by substring of e.g.
    # "sync/Financial/TransactionLines" or "oauth2/token".
    divisions: tuple[int, ...] | None = None
    endpoints: tuple[str, ...] | None = None
    include_token_endpoint: bool = False
    unreported_lines: tuple[str, ...] = ()
    """TransactionLine IDs that ReportingBalance leaves out (the lines are still served): a
    planted mismatch between the ledger and Exact's own balance, for the trial-balance check.
    A data fault, not a per-call one, so it does not count in ``active``."""

    def active(self) -> bool:
        return any(
            (
                self.error_5xx_rate,
                self.latency_ms,
                self.timeout_rate,
                self.malformed_json_rate,
                self.drop_rate,
                self.revoke_after_calls is not None,
                self.unauthorized_rate,
                self.unauthorized_next,
            )
        )


DEMO_APPS: tuple[AppRegistration, ...] = (
    AppRegistration(
        client_id="5b0c6a2e-3f1d-4c8e-9a7b-2d4e6f8a0c1e",
        client_secret="sandbox-connector-secret",
        redirect_uris=(
            "http://127.0.0.1:8001/oauth/callback",
            "http://localhost:8001/oauth/callback",
            "http://127.0.0.1:8000/oauth/callback",
            "http://localhost:8000/oauth/callback",
        ),
        name="Connector (sandbox demo)",
        webhook_secret="sandbox-webhook-secret",
    ),
    AppRegistration(
        client_id="9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
        client_secret="sandbox-second-secret",
        redirect_uris=("http://127.0.0.1:9999/callback",),
        name="Second app (sandbox)",
        webhook_secret="sandbox-second-webhook-secret",
    ),
)


@dataclass
class ModelSettings:
    """How Exact's data model looks today, so tests can change it as Exact does."""

    int64_as_string: bool = False
    """Serve Edm.Int64 values (Timestamp, Hid, ReportingBalance.ID) as JSON strings, as OData v2
    JSON does; numbers otherwise."""
    retired_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Endpoint path -> fields Exact no longer has there (selecting one is a 400)."""
    refused_endpoints: dict[str, int] = field(default_factory=dict)
    """Endpoint path -> status (400, 403 or 404) every call to it is answered with."""


def model_from_dict(raw: dict[str, Any], base: ModelSettings | None = None) -> ModelSettings:
    known = {f.name for f in dataclasses.fields(ModelSettings)}
    if set(raw) - known:
        raise ValueError(f"unknown model settings: {sorted(set(raw) - known)}")
    values = dict(raw)
    if "retired_fields" in values:
        values["retired_fields"] = {str(k): tuple(str(f) for f in v)
                                    for k, v in values["retired_fields"].items()}
    if "refused_endpoints" in values:
        values["refused_endpoints"] = {str(k): int(v)
                                       for k, v in values["refused_endpoints"].items()}
        if any(v not in (400, 403, 404) for v in values["refused_endpoints"].values()):
            raise ValueError("refused_endpoints: a status is 400, 403 or 404")
    if "int64_as_string" in values:
        values["int64_as_string"] = bool(values["int64_as_string"])
    return dataclasses.replace(base or ModelSettings(), **values)


@dataclass(frozen=True)
class ManyCompanies:
    """Many-companies mode: ``count`` generated companies from ``first_code`` on, each with
    its own administrator and a ledger of about ``rows`` TransactionLines (see companies.py)."""

    count: int = 0
    rows: int = 200
    first_code: int = 700_001
    resident: int = 64
    """Generated companies whose tables stay built in memory (least recently used beyond
    that are dropped and rebuilt on demand; a company with admin changes is always kept)."""


@dataclass
class SandboxConfig:
    seed: int = 1
    # The sandbox plays one regional instance; users of other instances cannot sign in.
    instance: str = "NL"
    limits: Limits = field(default_factory=Limits)
    faults: FaultSettings = field(default_factory=FaultSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    apps: tuple[AppRegistration, ...] = DEMO_APPS
    # Overrides of the seeded TransactionLines count per division code.
    division_sizes: dict[int, int] = field(default_factory=dict)
    # Extra divisions (code -> TransactionLines) owned by the large-data admin.
    extra_divisions: dict[int, int] = field(default_factory=dict)
    companies: ManyCompanies = field(default_factory=ManyCompanies)
    clock_start: float | None = None
    clock_speed: float = 1.0
    # Since July 2021 regular endpoints that have a sync twin demand a $filter.
    require_filter_with_sync_twin: bool = True
    # Reusing an old refresh token makes the whole grant unusable (EXACT_API.md section 9).
    old_refresh_reuse_kills_grant: bool = True
    # Role ids that count as administrator in users/UserRolesPerDivision.
    admin_role_ids: tuple[int, ...] = (1,)
    # Exact accepts only https:// callback URLs (EXACT_API.md section 7); local runs and tests
    # have no certificate, so they may allow http:// on loopback hosts only.
    webhook_http_loopback: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxConfig:
        """Build from plain JSON-like data (nested objects for limits/faults, list for apps)."""
        data = dict(data)
        limits = Limits(**data.pop("limits", {}))
        faults = faults_from_dict(data.pop("faults", {}))
        model = model_from_dict(data.pop("model", {}))
        companies = ManyCompanies(**data.pop("companies", {}))
        apps_raw = data.pop("apps", None)
        apps = DEMO_APPS if apps_raw is None else tuple(_app(a) for a in apps_raw)
        for key in ("division_sizes", "extra_divisions"):
            if key in data:
                data[key] = {int(k): int(v) for k, v in data[key].items()}
        if "admin_role_ids" in data:
            data["admin_role_ids"] = tuple(int(r) for r in data["admin_role_ids"])
        return cls(limits=limits, faults=faults, model=model, apps=apps, companies=companies,
                   **data)


def _app(raw: dict[str, Any]) -> AppRegistration:
    return AppRegistration(
        client_id=raw["client_id"],
        client_secret=raw["client_secret"],
        redirect_uris=tuple(raw["redirect_uris"]),
        name=raw.get("name", "Sandbox app"),
        webhook_secret=raw.get("webhook_secret", ""),
    )


def faults_from_dict(raw: dict[str, Any], base: FaultSettings | None = None) -> FaultSettings:
    """Merge `raw` onto `base` (or the defaults); unknown keys are an error."""
    known = {f.name for f in dataclasses.fields(FaultSettings)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown fault settings: {sorted(unknown)}")
    values = dict(raw)
    for key in ("divisions", "endpoints"):
        if values.get(key) is not None:
            conv = int if key == "divisions" else str
            values[key] = tuple(conv(v) for v in values[key])
    if "unreported_lines" in values:
        values["unreported_lines"] = tuple(sorted(str(v).lower()
                                                  for v in values["unreported_lines"] or ()))
    return dataclasses.replace(base or FaultSettings(), **values)


def parse_app(spec: str) -> AppRegistration:
    """Parse the CLI form `client_id,client_secret,uri1[,uri2...]`."""
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) < 3:
        raise ValueError("app spec is client_id,client_secret,redirect_uri[,redirect_uri...]")
    return AppRegistration(parts[0], parts[1], tuple(parts[2:]))
