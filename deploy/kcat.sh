#!/usr/bin/env bash
# kcat on the librdkafka that the confluent-kafka wheel ships (2.16 or later), for the embedded
# broker: Debian 12's kcat links librdkafka 2.0.2, which cannot read the embedded broker's
# ApiVersions v3 answer ("ApiVersionRequest failed: Local: Read underflow"); a newer librdkafka
# reads it. Apache Kafka (docker compose, make test-containers) serves any kcat as it is.
#   deploy/kcat.sh -b "$KAFKA_BOOTSTRAP_SERVERS" -L
#   deploy/kcat.sh -b "$KAFKA_BOOTSTRAP_SERVERS" -C -t exact.ledger.batches -e -f '%k %s\n'
set -euo pipefail
cd "$(dirname "$0")/.."
command -v kcat >/dev/null || { echo "kcat is not installed (Debian: apt-get install kcat)" >&2; exit 127; }
libs=$(uv run --frozen python -c "import confluent_kafka, pathlib; print(pathlib.Path(confluent_kafka.__file__).parent.parent / 'confluent_kafka.libs')")
lib=$(ls "$libs"/librdkafka-*.so.1 2>/dev/null | head -1)
[ -n "$lib" ] || { echo "no librdkafka in $libs (uv sync installs confluent-kafka, a dev dependency)" >&2; exit 1; }
mkdir -p .data/librdkafka
ln -sf "$lib" .data/librdkafka/librdkafka.so.1
LD_LIBRARY_PATH="$PWD/.data/librdkafka${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec kcat "$@"
