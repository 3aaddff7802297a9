"""Signed grant claims: datasource vouches that a grant belongs to a data source.

Datasource signs ``(datasource_id, grant_id, division)`` into every ``InitialRunRequested`` and
``RecreateAccepted`` with an Ed25519 private key; ingest holds only the public keys, verifies
the claim before it records a run or switches a grant, and so never uses a grant for another
data source than the one datasource bound it to, whoever wrote to the topic. Only datasource
can sign; a leaked verify key lets nobody forge.

Keys have ids: a claim is ``<key id>.<signature>``. Rotation: add the new public key to the
verifiers (``INGEST_RUN_CLAIM_VERIFY_KEYS``), then switch datasource to the new private key
(``DATASOURCE_RUN_CLAIM_SIGNING_KEY``), then drop the old public key once no message signed
with it waits in a topic. ``python -m connector_runtime.messaging.claims KEY_ID`` prints a key pair.
"""

from __future__ import annotations

import base64
import binascii
import sys
import uuid
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts import ContractError

_RAW = serialization.Encoding.Raw


class ClaimError(ContractError):
    """A claim that is missing, malformed, signed with an unknown key or not for this grant.

    A ContractError: the message is invalid, so it goes to the dead-letter topic at once."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _statement(datasource_id: uuid.UUID, grant_id: uuid.UUID, division: int) -> bytes:
    return f"exact-grant-claim/v1|{datasource_id}|{grant_id}|{division}".encode()


def _split(spec: str) -> tuple[str, bytes]:
    key_id, sep, material = spec.strip().partition(":")
    if not sep or not key_id or not key_id.isalnum():
        raise ValueError("a key is written KEY_ID:BASE64 (the key id letters and digits)")
    try:
        return key_id, _unb64(material.strip())
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"key {key_id}: not base64") from exc


class ClaimSigner:
    """Signs with one private key, given as ``KEY_ID:BASE64(32-byte seed)``."""

    def __init__(self, spec: str) -> None:
        self.key_id, seed = _split(spec)
        self._key = Ed25519PrivateKey.from_private_bytes(seed)

    def sign(self, datasource_id: uuid.UUID, grant_id: uuid.UUID, division: int) -> str:
        signature = self._key.sign(_statement(datasource_id, grant_id, division))
        return f"{self.key_id}.{_b64(signature)}"


class ClaimVerifier:
    """Verifies with the public keys given as ``KEY_ID:BASE64,KEY_ID:BASE64``."""

    def __init__(self, specs: str) -> None:
        keys: dict[str, Ed25519PublicKey] = {}
        for spec in filter(None, (s.strip() for s in specs.split(","))):
            key_id, raw = _split(spec)
            keys[key_id] = Ed25519PublicKey.from_public_bytes(raw)
        if not keys:
            raise ValueError("no verify key given")
        self._keys: Mapping[str, Ed25519PublicKey] = keys

    def verify(self, claim: str | None, datasource_id: uuid.UUID, grant_id: uuid.UUID,
               division: int) -> None:
        if not claim:
            raise ClaimError("no grant claim: the message was not issued by the datasource service")
        key_id, _, signature = claim.partition(".")
        key = self._keys.get(key_id)
        if key is None:
            raise ClaimError(f"grant claim signed with unknown key {key_id[:20]!r}")
        try:
            key.verify(_unb64(signature), _statement(datasource_id, grant_id, division))
        except (InvalidSignature, binascii.Error, ValueError):
            raise ClaimError("grant claim does not vouch for this data source, grant and "
                             "division") from None


def new_key_pair(key_id: str) -> tuple[str, str]:
    """(``KEY_ID:private`` for the signer, ``KEY_ID:public`` for the verifiers)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = key.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    return f"{key_id}:{_b64(private)}", f"{key_id}:{_b64(public)}"


def main() -> None:
    key_id = sys.argv[1] if len(sys.argv) > 1 else "k1"
    private, public = new_key_pair(key_id)
    sys.stdout.write(f"DATASOURCE_RUN_CLAIM_SIGNING_KEY={private}\n"
                     f"INGEST_RUN_CLAIM_VERIFY_KEYS={public}\n")


if __name__ == "__main__":
    main()
