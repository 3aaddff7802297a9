"""Dead letters for operators: read them, pick some, send them back to their source topic.

The services' dead-letter middleware (``connector_runtime.messaging.broker``) writes a record that
cannot be handled to ``<topic>.dlq`` with its original key, value and headers, plus
``dlq_reason``, ``dlq_source_topic/partition/offset``, ``dlq_consumer_group`` and
``dlq_failed_at``. Once the cause is fixed (the thing it refers to now exists, a service
was upgraded, a setting changed), :func:`redrive` publishes the selected records again to
their source topic, with the original key (so the same partition and order per data source)
and headers, and ``dlq_redriven_from`` naming the dead letter.

Re-driving is idempotent: every record sent is noted in :data:`REDRIVE_LOG` (keyed by the
dead letter's ``topic:partition:offset``, with the failed record's own ``topic:partition:offset``)
right after the broker acknowledged it, and a later redrive skips what is noted there; a
record dead-lettered twice (its group re-read it) goes back once. Should the tool die
between the two writes, the record goes out twice; the consumers deduplicate on
``message_id`` (their inbox), so it is still handled once. Every group of the source topic
receives the re-driven record; the groups that handled it the first time drop it so too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from connector_runtime.messaging.producer import running_producer
from contracts.topics import DLQ_SUFFIX

REDRIVE_LOG = "exact.dlq.redriven"
"""One record per re-driven dead letter: key ``topic:partition:offset``, JSON value."""
REDRIVEN_FROM = "dlq_redriven_from"


class DeadLetterError(Exception):
    """A dead-letter operation that cannot be done as asked."""


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, str], ...]
    timestamp: dt.datetime

    @property
    def ref(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    @property
    def reason(self) -> str:
        return self.header("dlq_reason") or "(no reason recorded)"

    @property
    def source_topic(self) -> str:
        return self.header("dlq_source_topic") or self.topic.removesuffix(DLQ_SUFFIX)

    @property
    def consumer_group(self) -> str:
        return self.header("dlq_consumer_group") or ""

    @property
    def message_type(self) -> str:
        return self.header("message_type") or ""

    @property
    def failed_at(self) -> dt.datetime:
        text = self.header("dlq_failed_at")
        try:
            return dt.datetime.fromisoformat(text) if text else self.timestamp
        except ValueError:
            return self.timestamp

    @property
    def original_headers(self) -> list[tuple[str, str]]:
        """The headers the record had on its source topic (without the dead-letter ones)."""
        return [(k, v) for k, v in self.headers if not k.startswith("dlq_")]

    @property
    def source_ref(self) -> str:
        """The record that failed, ``topic:partition:offset`` on its source topic: a group that
        re-read it (say after a restart) dead-letters it again, and it goes back once."""
        partition, offset = self.header("dlq_source_partition"), self.header("dlq_source_offset")
        if partition is None or offset is None:
            return f"dead letter {self.ref}"
        return f"{self.source_topic}:{partition}:{offset}"

    @property
    def key_text(self) -> str:
        return "" if self.key is None else self.key.decode(errors="replace")


@dataclass(frozen=True)
class Selection:
    """Which dead letters to act on; every given criterion must hold."""

    topic: str | None = None
    reason: str | None = None
    key: str | None = None
    group: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def matches(self, letter: DeadLetter) -> bool:
        return ((self.topic is None or self.topic in (letter.topic, letter.source_topic))
                and (self.reason is None or self.reason.lower() in letter.reason.lower())
                and (self.key is None or self.key == letter.key_text)
                and (self.group is None or self.group in letter.consumer_group.split(","))
                and (self.since is None or letter.failed_at >= self.since)
                and (self.until is None or letter.failed_at < self.until))


async def dead_letter_topics(bootstrap: str) -> list[str]:
    return sorted(t for t in await _topics(bootstrap) if t.endswith(DLQ_SUFFIX))


async def _read_all(bootstrap: str, topics: Sequence[str]) -> list[tuple[str, int, int, bytes | None,
                                                                         bytes, list[tuple[str, bytes]],
                                                                         int]]:
    """Every record of ``topics`` up to the end offsets seen at the start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_bytes=50 * 1024 * 1024)
    await consumer.start()
    out: list[tuple[str, int, int, bytes | None, bytes, list[tuple[str, bytes]], int]] = []
    try:
        await consumer.topics()
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not tps:
            return out
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        begin = await consumer.beginning_offsets(tps)
        pending = {tp for tp in tps if end[tp] > begin[tp]}
        for tp in pending:
            consumer.seek(tp, begin[tp])
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset < end[tp]:
                        out.append((r.topic, r.partition, r.offset, r.key, r.value or b"",
                                    list(r.headers), r.timestamp))
                if records and records[-1].offset + 1 >= end[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return out


async def read_dead_letters(bootstrap: str, topics: Iterable[str] | None = None) -> list[DeadLetter]:
    """The dead letters of ``topics`` (default: every ``*.dlq`` topic), oldest first per topic."""
    names = list(topics) if topics is not None else await dead_letter_topics(bootstrap)
    letters = [
        DeadLetter(topic, partition, offset, key, value,
                   tuple((k, v.decode(errors="replace")) for k, v in headers),
                   dt.datetime.fromtimestamp(ts / 1000, dt.UTC))
        for topic, partition, offset, key, value, headers, ts in await _read_all(bootstrap, names)
    ]
    return sorted(letters, key=lambda d: (d.topic, d.failed_at, d.partition, d.offset))


async def redriven(bootstrap: str) -> dict[str, dict[str, object]]:
    """``{dead letter ref: what was sent}`` from :data:`REDRIVE_LOG` (empty if none yet)."""
    done: dict[str, dict[str, object]] = {}
    if REDRIVE_LOG not in await _topics(bootstrap):
        return done
    for _t, _p, _o, key, value, _h, _ts in await _read_all(bootstrap, [REDRIVE_LOG]):
        if key is not None:
            done[key.decode()] = json.loads(value)
    return done


async def _topics(bootstrap: str) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return set(await consumer.topics())
    finally:
        await consumer.stop()


async def _ensure_log(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if REDRIVE_LOG not in set(await admin.list_topics()):
            try:
                await admin.create_topics([NewTopic(REDRIVE_LOG, num_partitions=1, replication_factor=1)])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


@dataclass(frozen=True)
class RedriveResult:
    sent: list[DeadLetter]
    already: list[DeadLetter]


async def redrive(bootstrap: str, letters: Sequence[DeadLetter], *, dry_run: bool = False,
                  by: str = "connector",
                  on_each: Callable[[DeadLetter, bool], None] | None = None) -> RedriveResult:
    """Send ``letters`` back to their source topics, skipping those re-driven before."""
    done = await redriven(bootstrap)
    sources = {str(note.get("of")) for note in done.values() if note.get("of")}
    todo: list[DeadLetter] = []
    already: list[DeadLetter] = []
    for d in letters:
        if d.ref in done or d.source_ref in sources:
            already.append(d)
        else:
            todo.append(d)
            sources.add(d.source_ref)
    for d in already:
        if on_each is not None:
            on_each(d, False)
    if dry_run or not todo:
        return RedriveResult(todo if dry_run else [], already)
    await _ensure_log(bootstrap)
    sent: list[DeadLetter] = []
    async with running_producer(bootstrap, max_request_size=1_048_576) as producer:
        for d in todo:
            headers = [(k, v.encode()) for k, v in d.original_headers]
            headers.append((REDRIVEN_FROM, d.ref.encode()))
            meta = await producer.send_and_wait(d.source_topic, d.value, key=d.key, headers=headers)
            note = {"of": d.source_ref, "source_topic": d.source_topic, "partition": meta.partition,
                    "offset": meta.offset,
                    "reason": d.reason, "by": by,
                    "at": dt.datetime.now(dt.UTC).isoformat()}
            await producer.send_and_wait(REDRIVE_LOG, json.dumps(note).encode(), key=d.ref.encode())
            sent.append(d)
            if on_each is not None:
                on_each(d, True)
    return RedriveResult(sent, already)


def find(letters: Iterable[DeadLetter], ref: str) -> DeadLetter:
    for d in letters:
        if d.ref == ref:
            return d
    raise DeadLetterError(f"no dead letter {ref} (give it as topic:partition:offset, see `dlq list "
                          "--records`)")
