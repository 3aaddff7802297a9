"""Change notifications pushed by Exact Online's webhooks, as ingest's receiver accepted them.

Exact sends no record data (EXACT_API.md section 7): a notification says which record of
which topic changed, and consumers read the change from Exact (ingest does, through its
incremental sync of the affected entity). The HashCode is checked before this event exists
and never travels.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.common import Division
from contracts.envelope import Message, WireModel

WebhookAction = Literal["Create", "Update", "Delete"]
"""Exact's ``Action`` (a delivery quoted in public client code shows "Update"; "Delete" for a
removed record; "Create" is accepted in case Exact names inserts so)."""


class ExactChangeNotifiedPayload(WireModel):
    """One signed notification for a division a data source is connected to."""

    division: Division
    topic: str = Field(min_length=1, max_length=100,
                       description="Exact's webhook topic, e.g. FinancialTransactions, Accounts")
    action: WebhookAction
    key: uuid.UUID = Field(description="ID of the changed record (for FinancialTransactions: "
                                       "the transaction, i.e. the lines' EntryID)")
    exact_endpoint: str = Field(max_length=500,
                                description="Exact's ExactOnlineEndpoint of the record")
    event_created_on: AwareDatetime = Field(
        description="Exact's EventCreatedOn (sent as Dutch wall-clock time), in UTC")
    received_at: AwareDatetime = Field(description="When the receiver accepted it")


class ExactChangeNotified(Message):
    type: Literal["ExactChangeNotified"] = "ExactChangeNotified"
    payload: ExactChangeNotifiedPayload
