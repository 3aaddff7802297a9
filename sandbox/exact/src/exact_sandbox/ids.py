"""Deterministic, invertible Guids for generated rows.

Row i of an entity maps to a random-looking version-4 Guid through a 64-bit bijection keyed by
(seed, division, entity), so `ID eq guid'...'` and `$skiptoken=guid'...'` resolve back to the
row index in O(1) without any stored list.
"""

from __future__ import annotations

import hashlib

_M64 = (1 << 64) - 1
_K1 = 0x9E3779B97F4A7C15
_K1_INV = pow(_K1, -1, 1 << 64)
_K2 = 0xD1B54A32D192ED03
_VARIANT = "89ab"


def mix64(x: int, key: int) -> int:
    """A cheap keyed 64-bit hash (splitmix-style finaliser)."""
    x = ((x ^ key) * _K1) & _M64
    x ^= x >> 31
    x = (x * _K2) & _M64
    return x ^ (x >> 29)


def derive_key(*parts: object) -> int:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


class GuidCodec:
    """Bijection between row indexes and Guid strings for one (seed, division, entity)."""

    __slots__ = ("_a", "_b")

    def __init__(self, seed: int, division: int, tag: str) -> None:
        self._a = derive_key(seed, division, tag, "a")
        self._b = derive_key(seed, division, tag, "b")

    def encode(self, i: int) -> str:
        x = ((i ^ self._a) * _K1) & _M64
        x ^= x >> 32
        y = mix64(x, self._b)
        s = "%016x%014x" % (x, y >> 8)  # noqa: UP031 - %-formatting is the fast path here
        return (
            f"{s[:8]}-{s[8:12]}-4{s[12:15]}-{_VARIANT[y & 3]}{s[15]}{s[16:18]}-{s[18:30]}"
        )

    def decode(self, guid: str) -> int | None:
        """Row index of `guid`, or None when it was not produced by this codec."""
        h = guid.strip().lower().replace("-", "")
        if len(h) != 32:
            return None
        try:
            x = int(h[:12] + h[13:16] + h[17], 16)
        except ValueError:
            return None
        x0 = x ^ (x >> 32)
        i = ((x0 * _K1_INV) & _M64) ^ self._a
        return i if self.encode(i) == guid.strip().lower() else None
