"""Security headers on every answer of auth's public listener.

Pages set their own Content-Security-Policy (with a nonce for their one inline style and the
Exact Online hosts a sign-in form may lead to, :func:`page_policy`); every other answer gets a
policy that allows nothing. ``nosniff``, ``frame-ancestors``/``X-Frame-Options`` (no framing:
clickjacking), ``Referrer-Policy: same-origin`` (a share link never leaks in a Referer to
another site, while our own form posts keep their ``Origin``, which ``no-referrer`` would turn
into ``null``) and,
when the public URL is https, HSTS.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000; includeSubDomains"


def page_policy(nonce: str, form_targets: Iterable[str]) -> str:
    """The policy of an HTML page: its own styles, forms to us (and, by redirect, to Exact)."""
    targets = " ".join(["'self'", *sorted(set(form_targets))])
    return (f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self'; "
            f"form-action {targets}; frame-ancestors 'none'; base-uri 'none'")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", STRICT_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                if self.https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, with_headers)
