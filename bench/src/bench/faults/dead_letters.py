"""R5's verdict: every hostile message dead-lettered, with a reason, by every consumer group
the deployment says must read its topic.

The groups expected per topic come from :mod:`bench.deployment` (the services' declared
subscriptions), never from the dead letters themselves: a group that silently drops a
message then leaves it missing, and the scenario fails.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from bench.topics import read_all
from contracts import dead_letter_topic

SourceKey = tuple[str, int, int]
"""(topic, partition, offset) of a hostile message as the broker stored it."""


@dataclass
class DeadLetterVerdict:
    sent: int
    complete: int
    missing: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    """(topic, kind, groups that did not dead-letter it)."""
    unexpected_groups: set[str] = field(default_factory=set)
    """Groups that dead-lettered a message of a topic the deployment does not give them."""
    unconsumed_topics: set[str] = field(default_factory=set)
    """Topics hostile messages went to that no deployed group reads (nothing to check)."""

    @property
    def pct(self) -> float:
        return round(100 * self.complete / self.sent, 1) if self.sent else 0.0

    def failures(self) -> list[str]:
        out = []
        if self.missing:
            out.append(f"{len(self.missing)} not dead-lettered by every consumer group, e.g. "
                       f"{self.missing[:3]}")
        if self.unexpected_groups:
            out.append(f"dead letters from groups the deployment does not declare: "
                       f"{sorted(self.unexpected_groups)}")
        if self.unconsumed_topics:
            out.append(f"hostile messages sent to topics no group consumes: "
                       f"{sorted(self.unconsumed_topics)}")
        if not self.sent:
            out.append("no hostile message was sent")
        return out


def verdict(sent: Mapping[SourceKey, tuple[str, str]],
            dead_letters: Mapping[SourceKey, list[tuple[str, str]]],
            expected: Mapping[str, set[str]]) -> DeadLetterVerdict:
    """``sent``: key -> (topic, kind); ``dead_letters``: key -> [(group, reason)];
    ``expected``: topic -> the groups that must dead-letter each of its bad messages."""
    result = DeadLetterVerdict(sent=len(sent), complete=0)
    for key, (topic, kind) in sent.items():
        groups = expected.get(topic, set())
        if not groups:
            result.unconsumed_topics.add(topic)
            continue
        entries = dead_letters.get(key, [])
        with_reason = {g for g, reason in entries if reason}
        result.unexpected_groups |= {g for g, _r in entries} - groups
        lacking = groups - with_reason
        if lacking:
            result.missing.append((topic, kind, tuple(sorted(lacking))))
        else:
            result.complete += 1
    return result


async def dead_lettered(bootstrap: str, sent: Mapping[SourceKey, tuple[str, str]],
                        timeout: float) -> dict[SourceKey, list[tuple[str, str]]]:
    """Dead letters of the sent messages: (group, reason) per source key, read from the
    ``.dlq`` topics until every message has one and no group is still adding to them."""
    topics = sorted({dead_letter_topic(t) for t, _p, _o in sent})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = -1
    while True:
        found: dict[SourceKey, list[tuple[str, str]]] = defaultdict(list)
        for record in await read_all(bootstrap, topics):
            headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
            try:
                key = (headers["dlq_source_topic"], int(headers["dlq_source_partition"]),
                       int(headers["dlq_source_offset"]))
            except (KeyError, ValueError):
                continue
            if key in sent:
                found[key].append((headers.get("dlq_consumer_group", ""),
                                   headers.get("dlq_reason", "")))
        records = sum(len(v) for v in found.values())
        if (len(found) >= len(sent) and records == last) or loop.time() > deadline:
            return found
        last = records
        await asyncio.sleep(2.0)
