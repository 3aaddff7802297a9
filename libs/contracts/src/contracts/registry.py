"""Parse raw bytes from a topic into the right message class, or say why not."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from contracts.envelope import Message
from contracts.topics import MAX_MESSAGE_BYTES, TOPIC_MESSAGES


class ContractError(ValueError):
    """Bytes that are not a valid message for their topic; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def topic_union(topic: str) -> Any:
    """The type of every message ``topic`` carries (a discriminated union on ``type``).

    Subscribers annotate their parameter with it, so a message type added to the
    topic later is accepted (and documented) without editing each consumer.
    """
    classes = TOPIC_MESSAGES[topic]
    if len(classes) == 1:
        return classes[0]
    union: Any = classes[0]
    for cls in classes[1:]:
        union = union | cls
    return Annotated[union, Field(discriminator="type")]


@cache
def _adapter(topic: str) -> TypeAdapter[Any]:
    return TypeAdapter(topic_union(topic))


def parse_message(topic: str, raw: bytes | str) -> Message:
    """Validate ``raw`` as one of the messages ``topic`` carries."""
    if topic not in TOPIC_MESSAGES:
        raise ContractError(f"unknown topic {topic!r}")
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_MESSAGE_BYTES[topic]:
        raise ContractError(f"{size} bytes, over the {MAX_MESSAGE_BYTES[topic]}-byte limit of {topic}")
    try:
        message: Message = _adapter(topic).validate_json(raw)
    except ValidationError as exc:
        raise ContractError(_describe(exc)) from None
    return message


def _describe(exc: ValidationError) -> str:
    # Input values are left out on purpose: a bad message may carry a secret.
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return "; ".join(parts[:10])
