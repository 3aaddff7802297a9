#!/usr/bin/env bash
# Who may do what on the connector's topics (docker-compose.yml runs it after create-topics.sh,
# which wrote /tmp/admin.properties). Each service has its own SCRAM user; it may read the topics
# it consumes (with its consumer groups), write the topics it produces and the dead-letter
# topics of what it consumes, and nothing else: allow.everyone.if.no.acl.found=false refuses
# anything not listed. tests/test_deploy.py checks the lists against the code.
set -euo pipefail
B=${BOOTSTRAP:-kafka:9092}
A="/opt/kafka/bin/kafka-acls.sh --bootstrap-server $B --command-config /tmp/admin.properties"
read_topics() { # user group-prefix topic...
  local user=$1 group=$2; shift 2
  for t in "$@"; do
    $A --add --allow-principal "User:$user" --operation Read --operation Describe --topic "$t"
    $A --add --allow-principal "User:$user" --operation Write --operation Describe --topic "$t.dlq"
  done
  $A --add --allow-principal "User:$user" --operation Read --operation Describe \
     --group "$group" --resource-pattern-type prefixed
}
write_topics() { # user topic...
  local user=$1; shift
  for t in "$@"; do
    $A --add --allow-principal "User:$user" --operation Write --operation Describe --topic "$t"
  done
}
# auth: authorization requests and datasource's decisions in, auth events out
read_topics auth exact-auth exact.auth.requests exact.datasource.events
write_topics auth exact.auth.events
# datasource: commands, auth events and run events in; its events, auth and ingest requests
# and the purge (DataSourcePurged on the ledger topic) out
read_topics datasource exact-datasource exact.datasource.commands exact.auth.events exact.ingest.runs
write_topics datasource exact.datasource.events exact.auth.requests exact.ingest.requests exact.ledger.batches
# ingest: run requests and recreate decisions in; run events and ledger batches out
read_topics ingest exact-ingest exact.ingest.requests exact.datasource.events
write_topics ingest exact.ingest.runs exact.ledger.batches
# the portal backend: commands out; what happened in
write_topics portal exact.datasource.commands
read_topics portal portal exact.auth.events exact.datasource.events exact.ingest.runs
# a downstream consumer such as the example ledger sink: the ledger and run events in
read_topics sink ledger-sink exact.ledger.batches exact.ingest.runs
