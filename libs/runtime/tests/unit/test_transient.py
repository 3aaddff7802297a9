"""Which failures are worth retrying (the work waits and resumes) and which are not."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from connector_runtime.messaging.broker import is_transient


def test_a_connection_pool_busy_for_its_timeout_is_transient() -> None:
    exc = PoolTimeout("QueuePool limit of size 10 overflow 10 reached, connection timed out")
    assert is_transient(exc)


def test_a_broken_constraint_is_not_transient() -> None:
    assert not is_transient(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_transient(ValueError("bad data"))
