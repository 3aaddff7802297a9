"""The browser binding and request-forgery guards of auth's pages.

* **Binding cookie**, one per authorization (``exact_auth_<authorization id>``, HttpOnly,
  SameSite=Lax, Secure on https): a random secret whose hash the session keeps. It is replaced
  by a fresh one whenever a sign-in starts (session rotation), so a secret planted or seen
  before the sign-in is worth nothing afterwards.
* **CSRF token**: every form carries an HMAC of that cookie; a POST without the right token is
  refused, so another site cannot submit our forms in the victim's browser.
* **Origin**: a POST whose ``Origin`` (or, lacking it, ``Referer``) is another site than
  ``AUTH_PUBLIC_BASE_URL`` is refused as well.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

COOKIE_PREFIX = "exact_auth_"
COOKIE_MAX_AGE = 7 * 86400


def cookie_name(authorization_id: uuid.UUID) -> str:
    return f"{COOKIE_PREFIX}{authorization_id.hex}"


def browser_secret(request: Request, authorization_id: uuid.UUID | None) -> str | None:
    return request.cookies.get(cookie_name(authorization_id)) if authorization_id else None


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def set_binding(request: Request, response: Response, authorization_id: uuid.UUID,
                secret: str) -> None:
    response.set_cookie(cookie_name(authorization_id), secret, max_age=COOKIE_MAX_AGE,
                        httponly=True, samesite="lax", secure=_https(request), path="/")


def token(request: Request, authorization_id: uuid.UUID, secret: str | None) -> str:
    """The CSRF token of the forms of this authorization in this browser."""
    key: bytes = request.app.state.csrf_key
    message = f"{authorization_id}:{secret or ''}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _same_origin(value: str, public_base_url: str) -> bool:
    given, ours = urlsplit(value), urlsplit(public_base_url)
    return (given.scheme, given.netloc) == (ours.scheme, ours.netloc)


def forged(request: Request, authorization_id: uuid.UUID, secret: str | None,
           sent: str | None) -> str | None:
    """Why this POST is not the browser's own form submission, or None when it is."""
    public: str = request.app.state.public_base_url
    origin = request.headers.get("origin")
    referer = request.headers.get("referer")
    if origin is not None and not _same_origin(origin, public):
        return "origin"
    if origin is None and referer and not _same_origin(referer, public):
        return "referer"
    if not secret:
        return "no_cookie"
    if not sent or not hmac.compare_digest(sent, token(request, authorization_id, secret)):
        return "csrf_token"
    return None


def _https(request: Request) -> bool:
    return str(request.app.state.public_base_url).startswith("https://")
