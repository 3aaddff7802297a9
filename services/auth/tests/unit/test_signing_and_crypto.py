"""Signed links and states (itsdangerous) and tokens encrypted at rest (Fernet)."""

import uuid

import pytest
from cryptography.fernet import Fernet

from auth.adapters.crypto import TokenCipher
from auth.adapters.signing import ItsDangerousSigner
from auth.domain.errors import ForgedState, LinkInvalid, StoredTokenUnreadable

ID = uuid.uuid4()


def test_a_link_token_is_stable_and_bound_to_its_authorization() -> None:
    signer = ItsDangerousSigner("key")
    token = signer.link_token(ID, "nonce")
    assert signer.link_token(ID, "nonce") == token
    assert signer.read_link(token) == (ID, "nonce")
    assert signer.link_token(ID, "other") != token


@pytest.mark.parametrize("mangle", [
    # not the last character: its low bits are base64 padding, so changing it can leave the
    # signature's bytes as they were (the test failed now and then)
    lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],
    lambda t: "x" + t,
    lambda t: "nonsense",
    lambda t: ItsDangerousSigner("another key").link_token(ID, "nonce"),
    lambda t: ItsDangerousSigner("key").new_state(ID),  # a state is no link
])
def test_a_tampered_or_foreign_link_is_invalid(mangle) -> None:
    signer = ItsDangerousSigner("key")
    with pytest.raises(LinkInvalid):
        signer.read_link(mangle(signer.link_token(ID, "nonce")))


def test_states_are_unique_and_expire() -> None:
    signer = ItsDangerousSigner("key")
    first, second = signer.new_state(ID), signer.new_state(ID)
    assert first != second and signer.read_state(first) == ID
    with pytest.raises(ForgedState):
        ItsDangerousSigner("key", state_max_age=-1).read_state(first)
    with pytest.raises(ForgedState):
        signer.read_state(signer.link_token(ID, "nonce"))


def test_tokens_are_encrypted_and_keys_rotate() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = TokenCipher(old).encrypt("refresh-token")
    assert b"refresh-token" not in stored
    rotating = TokenCipher(f"{new},{old}")
    assert rotating.decrypt(stored) == "refresh-token"
    rotated = rotating.rotate(stored)
    assert TokenCipher(new).decrypt(rotated) == "refresh-token"
    with pytest.raises(StoredTokenUnreadable):
        TokenCipher(new).decrypt(stored)


def test_a_key_that_is_no_fernet_key_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="Fernet"):
        TokenCipher("not-a-key")


def test_a_rotated_signing_key_still_verifies_what_the_old_one_signed() -> None:
    old = ItsDangerousSigner("k1:old-key")
    link, state = old.link_token(ID, "nonce"), old.new_state(ID)
    rotated = ItsDangerousSigner("k2:new-key,k1:old-key")
    assert rotated.read_link(link) == (ID, "nonce") and rotated.read_state(state) == ID
    assert rotated.link_tokens(ID, "nonce")[1] == link  # the portal gets the issued link back
    assert rotated.link_token(ID, "nonce") != link  # new links use the new key
    assert ItsDangerousSigner("k2:new-key").read_link(rotated.link_token(ID, "nonce"))
    with pytest.raises(LinkInvalid):
        ItsDangerousSigner("k2:new-key").read_link(link)  # the old key retired
