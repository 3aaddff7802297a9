"""Settings of the auth service (environment variables prefixed AUTH_, plus EXACT_BASE_URL).

Read once at start-up by :func:`auth.app.main` and passed down; nothing else reads the
environment. Secrets are ``SecretStr`` and have no default.
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connector_runtime.settings import ServiceSettings
from contracts import READ_ENDPOINTS

DEFAULT_RIGHTS_ENDPOINTS: tuple[str, ...] = READ_ENDPOINTS
"""Every endpoint the import reads (the contracts' row models name them); an administrator
must have GET rights on each."""


class Region(BaseModel):
    """One Exact Online instance. ``supported`` instances can be connected; ``base_url``
    defaults to ``EXACT_BASE_URL`` for the instance the service talks to."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    host: str
    supported: bool = False
    base_url: str | None = None


DEFAULT_REGIONS: tuple[Region, ...] = (
    Region(code="NL", name="the Netherlands", host="start.exactonline.nl", supported=True),
    Region(code="BE", name="Belgium", host="start.exactonline.be"),
    Region(code="DE", name="Germany", host="start.exactonline.de"),
    Region(code="UK", name="the United Kingdom", host="start.exactonline.co.uk"),
    Region(code="US", name="the United States", host="start.exactonline.com"),
    Region(code="ES", name="Spain", host="start.exactonline.es"),
    Region(code="FR", name="France", host="start.exactonline.fr"),
)


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", frozen=True)

    http_port: int = 8001
    internal_http_port: int = 9001

    public_base_url: str = Field(
        default="http://localhost:8001",
        description="Browser-facing base URL of auth's pages; the OAuth redirect URI is "
        "{public_base_url}/oauth/callback and must be registered with Exact exactly.",
    )
    internal_base_url: str | None = Field(
        default=None,
        description="Base URL other services reach the internal API at (fetch_url of "
        "AuthorizationLinkIssued); default http://127.0.0.1:{internal_http_port}.",
    )
    exact_base_url: str = Field(
        default="https://start.exactonline.nl",
        validation_alias=AliasChoices("EXACT_BASE_URL", "exact_base_url"),
        description="Base URL of the supported Exact Online instance (or the sandbox).",
    )
    exact_client_id: str = Field(description="Client id of the app registered with Exact.")
    exact_client_secret: SecretStr
    token_encryption_key: SecretStr = Field(
        description="Fernet key(s), comma separated; the first encrypts, all decrypt "
        "(rotation). Generate with `python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'`."
    )
    link_signing_key: SecretStr = Field(description="Key that signs links and OAuth state.")

    share_link_ttl_seconds: int = Field(
        default=86400, gt=0, description="How long a share link works (a day: a forwarded or "
        "leaked link is useless soon; the portal can ask for a new one).")
    self_link_ttl_seconds: int = Field(
        default=3600, gt=0, description="How long a sign-in link for the portal user works.")
    admin_role_ids: tuple[int, ...] = Field(
        default=(1,), description="users/UserRolesPerDivision role ids that mean administrator."
    )
    rights_endpoints: tuple[str, ...] = Field(
        default=DEFAULT_RIGHTS_ENDPOINTS,
        description="Endpoints users/UserHasRights must allow GET on (what the import reads).",
    )
    regions: tuple[Region, ...] = Field(
        default=DEFAULT_REGIONS, description="Exact Online instances, JSON list of objects."
    )
    refresh_margin_seconds: int = Field(
        default=30, ge=1,
        description="Refresh an access token when it has this much life left (Exact's 570 s "
        "rule allows a new token 30 s before a 600 s token expires; never earlier than the "
        "rule allows, whatever this says).",
    )
    min_refresh_interval_seconds: int | None = Field(
        default=None, ge=0,
        description="Override only: seconds after issue before a new access token is asked. "
        "Unset (the default), each token's own lifetime decides: Exact's expires_in minus "
        "30 s (570 s for its 600 s tokens); a TooEarlyToRefreshTokens answer is respected "
        "either way.",
    )
    refresh_token_lifetime_seconds: float = Field(
        default=30 * 86400, gt=0,
        description="How long Exact keeps an unused refresh token (30 days).",
    )
    keepalive_before_seconds: float = Field(
        default=7 * 86400, ge=0,
        description="Refresh an idle grant when its refresh token would expire within this.",
    )
    keepalive_interval_seconds: float = Field(
        default=3600, gt=0, description="How often grants due for a keep-alive are looked for.",
    )
    retry_after_seconds: int = Field(
        default=5, ge=1, description="Retry-After of a 503 when Exact is unavailable."
    )
    exact_timeout_seconds: float = Field(default=20.0, gt=0)
    signin_attempts: int = Field(
        default=4, ge=1,
        description="Tries of each Exact call during sign-in (code exchange, Me, divisions, "
        "roles, rights) on 5xx, timeouts, dropped connections and broken JSON.",
    )
    signin_backoff_seconds: float = Field(
        default=0.3, gt=0, description="First wait before a sign-in call is tried again; "
        "doubles per retry (at most 3 s).",
    )
    sweep_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often expired links are closed."
    )
    consumer_group: str = Field(default="exact-auth", description="Kafka consumer group.")
    product_name: str = Field(default="Exopen", description="Our name on the pages.")

    @field_validator("public_base_url", "internal_base_url", "exact_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_base_url}/oauth/callback"

    @property
    def internal_url(self) -> str:
        return self.internal_base_url or f"http://127.0.0.1:{self.internal_http_port}"

    def region(self, code: str) -> Region | None:
        return next((r for r in self.regions if r.code == code), None)

    def region_base_url(self, region: Region) -> str:
        return region.base_url or self.exact_base_url

    @property
    def default_region(self) -> Region:
        return next(r for r in self.regions if r.supported)
