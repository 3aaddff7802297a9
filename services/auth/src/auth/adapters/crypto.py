"""Tokens encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

``AUTH_TOKEN_ENCRYPTION_KEY`` holds one or more Fernet keys, comma separated. The first one
encrypts; every one decrypts. To rotate: put a new key first, keep the old ones after it,
restart, run ``python -m auth.rotate_keys`` (re-encrypts every stored token with the first
key), then drop the old keys.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from auth.domain.errors import StoredTokenUnreadable


class TokenCipher:
    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ValueError("AUTH_TOKEN_ENCRYPTION_KEY holds no Fernet key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        except ValueError:
            raise ValueError(
                "AUTH_TOKEN_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes), "
                "comma separated"
            ) from None

    def encrypt(self, plain: str) -> bytes:
        return self._fernet.encrypt(plain.encode())

    def decrypt(self, data: bytes) -> str:
        try:
            return self._fernet.decrypt(data).decode()
        except InvalidToken:
            raise StoredTokenUnreadable("no configured key decrypts a stored token") from None

    def rotate(self, data: bytes) -> bytes:
        try:
            return self._fernet.rotate(data)
        except InvalidToken:
            raise StoredTokenUnreadable("no configured key decrypts a stored token") from None
