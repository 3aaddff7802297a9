"""The typed client of the sandbox's admin API (``/_sandbox/...``), over HTTP only.

Everything outside the sandbox that sets its clock, faults, limits or data model, creates
or withdraws grants, makes data changes or reads its figures does it through
:class:`SandboxAdmin`, so each admin path and its body are written once. Answers are the
JSON the sandbox returns (shapes in the sandbox README); an answer of 400 or more raises
:class:`SandboxAdminError` with the sandbox's text.
"""

from __future__ import annotations

from typing import Any

import httpx


class SandboxAdminError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"sandbox {method} {path}: {status} {text[:300]}")
        self.status = status


class SandboxAdmin:
    """Admin calls on the sandbox at ``base_url`` (or the base URL of ``http``).

    ``http`` is the caller's client (an ASGI client in tests, a shared one in a harness);
    without one, the admin client opens its own, closed by :meth:`aclose` or ``async with``.
    """

    def __init__(self, base_url: str = "", *, http: httpx.AsyncClient | None = None,
                 timeout: float = 30.0) -> None:
        self._own = http is None
        self.http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self._base = base_url.rstrip("/")

    async def __aenter__(self) -> SandboxAdmin:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own:
            await self.http.aclose()

    async def call(self, method: str, path: str, body: Any = None,
                   params: dict[str, Any] | None = None) -> Any:
        response = await self.http.request(method, f"{self._base}/_sandbox/{path}", json=body,
                                           params=params)
        if response.status_code >= 400:
            raise SandboxAdminError(method, path, response.status_code, response.text)
        return response.json()

    # ---- figures ---------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = await self.call("GET", "health")
        return answer

    async def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = await self.call("GET", "stats")
        return answer

    async def reset_stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = await self.call("POST", "stats/reset")
        return answer

    async def expected(self, division: int) -> dict[str, Any]:
        """``{"division", "data_version", "entities": {entity: figures}}``."""
        answer: dict[str, Any] = await self.call("GET", f"expected/{division}")
        return answer

    async def access_log(self, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = await self.call("GET", "access-log", params=params)
        return answer

    async def tokens(self) -> dict[str, list[str]]:
        """Every access and refresh token the sandbox issued (to look for leaks)."""
        answer: dict[str, list[str]] = await self.call("GET", "tokens")
        return answer

    async def divisions(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = await self.call("GET", "divisions")
        return answer

    async def users(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = await self.call("GET", "users")
        return answer

    # ---- time, limits, faults, model -------------------------------------------------------

    async def _read_or_change(self, method: str, path: str,
                              change: dict[str, Any]) -> dict[str, Any]:
        """GET ``path``; with a ``change``, send it with ``method`` (the answer is the same)."""
        answer: dict[str, Any] = await (self.call(method, path, change) if change
                                        else self.call("GET", path))
        return answer

    async def clock(self, **change: Any) -> dict[str, Any]:
        """The clock; with ``set``, ``advance`` or ``speed``, changed first."""
        return await self._read_or_change("POST", "clock", change)

    async def limits(self, **change: Any) -> dict[str, Any]:
        """The rate and token limits; with keyword arguments, those changed first."""
        return await self._read_or_change("PATCH", "limits", change)

    async def reset_limits(self) -> None:
        """Empty the rate-limit windows (the limits stay)."""
        await self.call("POST", "limits/reset")

    async def faults(self) -> dict[str, Any]:
        """The general fault settings."""
        answer: dict[str, Any] = await self.call("GET", "faults")
        return answer

    async def set_faults(self, *, division: int | None = None, **settings: Any) -> dict[str, Any]:
        """Replace the faults (of one division's calls, with ``division``)."""
        answer: dict[str, Any] = await self.call("PUT", self._faults(division), settings)
        return answer

    async def patch_faults(self, *, division: int | None = None, **settings: Any) -> dict[str, Any]:
        """Change some fault settings, keeping the others."""
        answer: dict[str, Any] = await self.call("PATCH", self._faults(division), settings)
        return answer

    async def clear_faults(self, *, division: int | None = None) -> dict[str, Any] | None:
        """No faults any more (of one division's own, with ``division``); what is left."""
        answer: dict[str, Any] | None = await self.call("DELETE", self._faults(division))
        return answer

    @staticmethod
    def _faults(division: int | None) -> str:
        return "faults" if division is None else f"faults/divisions/{division}"

    async def model(self, **change: Any) -> dict[str, Any]:
        """Exact's data model as served; with keyword arguments, those changed first."""
        return await self._read_or_change("PATCH", "model", change)

    async def reset_model(self) -> None:
        await self.call("DELETE", "model")

    # ---- grants, data changes, webhooks ----------------------------------------------------

    async def grant(self, username: str, **body: Any) -> dict[str, Any]:
        """A grant made without a browser: ``{"grant_id", "access_token", "refresh_token", ...}``."""
        answer: dict[str, Any] = await self.call("POST", "grants", {"username": username, **body})
        return answer

    async def grants(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = await self.call("GET", "grants")
        return answer

    async def withdraw(self, **who: Any) -> list[str]:
        """Withdraw grants by ``username``, ``client_id`` or ``grant_id``; the ids withdrawn."""
        answer: dict[str, Any] = await self.call("POST", "grants/withdraw", who)
        return list(answer["withdrawn"])

    async def change(self, division: int, **body: Any) -> dict[str, Any]:
        """Create, update or delete rows of a division (webhooks are planned for them)."""
        answer: dict[str, Any] = await self.call("POST", f"divisions/{division}/changes", body)
        return answer

    async def webhooks(self) -> dict[str, Any]:
        """Subscriptions, delivery counts and faults."""
        answer: dict[str, Any] = await self.call("GET", "webhooks")
        return answer

    async def webhook_faults(self, **faults: Any) -> dict[str, Any]:
        """Set the delivery faults (e.g. ``lose_rate=1.0``); none given: no faults."""
        answer: dict[str, Any] = await self.call("PATCH", "webhooks", {"faults": faults})
        return answer

    async def drain_webhooks(self) -> dict[str, Any]:
        """Wait until every planned delivery was made; the webhook state after."""
        answer: dict[str, Any] = await self.call("POST", "webhooks/drain")
        return answer
