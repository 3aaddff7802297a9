#!/usr/bin/env bash
# Topic layout of the connector. Keys are datasource ids everywhere.
#  - commands and requests: 7 days (replayable after an outage of the consumers)
#  - auth/datasource/run events: 30 days
#  - ledger batches: kept without a time limit (retention.ms=-1, cleanup.policy=delete):
#    a downstream team rebuilds its store from the topic (initial run, re-imports,
#    incremental upserts and LedgerDeletes, in order). Not compacted: a key is a data
#    source, not a row, so compaction would keep only a data source's last batch.
#    If disk forces a limit, keep at least the time since each data source's last full
#    re-import (older history can be replaced by `connector reimport`).
#  - no topic is compacted: every topic is a log of events keyed by data source, and the
#    current state lives in the services' databases (datasource's read API).
#  - dead-letter topics: 30 days, for inspection and re-drive
set -euo pipefail
B=${BOOTSTRAP:-kafka:9092}
P=${PARTITIONS:-12}
T=/opt/kafka/bin/kafka-topics.sh
CONFIG=/tmp/admin.properties
if [ -n "${KAFKA_ADMIN_PASSWORD:-}" ]; then  # SASL/SCRAM as the admin user (docker-compose.yml)
  cat > "$CONFIG" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
EOF
else
  : > "$CONFIG"
fi
DAY=86400000
create() { # name retention_ms
  $T --bootstrap-server "$B" --command-config "$CONFIG" --create --if-not-exists --topic "$1" --partitions "$P" \
     --replication-factor 1 --config retention.ms="$2" --config max.message.bytes=1048588
  $T --bootstrap-server "$B" --command-config "$CONFIG" --create --if-not-exists --topic "$1.dlq" --partitions "$P" \
     --replication-factor 1 --config retention.ms=$((30 * DAY))
}
create exact.datasource.commands $((7 * DAY))
create exact.auth.requests $((7 * DAY))
create exact.auth.events $((30 * DAY))
create exact.datasource.events $((30 * DAY))
create exact.ingest.requests $((7 * DAY))
create exact.ingest.runs $((30 * DAY))
create exact.ledger.batches -1
create exact.webhooks.notifications $((7 * DAY))
# re-drive log of `connector dlq redrive` (which dead letters went back; kept as long as them)
$T --bootstrap-server "$B" --create --if-not-exists --topic exact.dlq.redriven --partitions 1 \
   --replication-factor 1 --config retention.ms=$((30 * DAY))
