#!/usr/bin/env bash
# Topic layout of the connector. Keys are datasource ids everywhere.
#  - commands and requests: 7 days (replayable after an outage of the consumers)
#  - auth/datasource/run events: 30 days
#  - ledger batches: 30 days, long enough for a downstream team to rebuild its store
#  - dead-letter topics: 30 days, for inspection and re-drive
set -euo pipefail
B=${BOOTSTRAP:-kafka:9092}
P=${PARTITIONS:-12}
T=/opt/kafka/bin/kafka-topics.sh
DAY=86400000
create() { # name retention_ms
  $T --bootstrap-server "$B" --create --if-not-exists --topic "$1" --partitions "$P" \
     --replication-factor 1 --config retention.ms="$2" --config max.message.bytes=1048588
  $T --bootstrap-server "$B" --create --if-not-exists --topic "$1.dlq" --partitions "$P" \
     --replication-factor 1 --config retention.ms=$((30 * DAY))
}
create exact.datasource.commands $((7 * DAY))
create exact.auth.requests $((7 * DAY))
create exact.auth.events $((30 * DAY))
create exact.datasource.events $((30 * DAY))
create exact.ingest.requests $((7 * DAY))
create exact.ingest.runs $((30 * DAY))
create exact.ledger.batches $((30 * DAY))
