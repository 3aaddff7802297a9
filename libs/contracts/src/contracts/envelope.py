"""The envelope every message carries, and how messages are built and read.

A message is one pydantic model: the envelope fields plus a typed ``payload``.
The ``type`` field is a literal per message class, so a union of message
classes is a discriminated union and a topic's messages parse in one call.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

MessageT = TypeVar("MessageT", bound="Message")


class WireModel(BaseModel):
    """Base of every wire model.

    Strict types (no silent coercion of "12" to 12), immutable, and unknown
    fields ignored so that an additive change by a producer never breaks an
    older consumer.
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class Message(WireModel):
    """Envelope fields shared by every command and event."""

    SCHEMA_VERSION: ClassVar[int] = 1

    message_id: uuid.UUID
    type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    correlation_id: uuid.UUID
    datasource_id: uuid.UUID
    payload: Any

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def create(
        cls,
        *,
        datasource_id: uuid.UUID,
        correlation_id: uuid.UUID | None = None,
        payload: Any,
        message_id: uuid.UUID | None = None,
        **envelope: Any,
    ) -> Self:
        """Build a message with a fresh id unless given (a producer's derived id, which its
        consumers dedupe on); a new correlation starts here unless given."""
        return cls(
            message_id=message_id or uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            datasource_id=datasource_id,
            correlation_id=correlation_id or uuid.uuid4(),
            schema_version=cls.SCHEMA_VERSION,
            payload=payload,
            **envelope,
        )

    def caused(self, cls: builtins.type[MessageT], payload: Any) -> MessageT:
        """A message caused by this one: same data source, same correlation."""
        return cls.create(
            datasource_id=self.datasource_id,
            correlation_id=self.correlation_id,
            payload=payload,
        )

    @property
    def key(self) -> bytes:
        """Kafka key: everything about one data source lands in one partition."""
        return str(self.datasource_id).encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

