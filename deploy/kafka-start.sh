#!/usr/bin/env bash
# Starts the single-node KRaft broker of docker-compose.yml with SASL/SCRAM-SHA-512 on the client
# listener and the StandardAuthorizer (ACLs, deploy/kafka-acls.sh). The SCRAM users - admin and
# one per service - are written into the metadata when the storage is formatted, i.e. on the
# first start; later password changes go through kafka-configs.sh (deploy/security.md).
set -euo pipefail
CONF=/tmp/server.properties
cat > "$CONF" <<PROPS
node.id=1
process.roles=broker,controller
controller.quorum.voters=1@localhost:9093
listeners=SASL_PLAINTEXT://:9092,CONTROLLER://localhost:9093
advertised.listeners=SASL_PLAINTEXT://kafka:9092
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
# the controller listener is bound to localhost (this container only); its principal is ANONYMOUS
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
offsets.retention.minutes=43200
log.dirs=/var/lib/kafka/data
PROPS
cat > /tmp/admin.properties <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
PROPS
users=()
for name in admin auth datasource ingest portal sink; do
  var="KAFKA_${name^^}_PASSWORD"
  users+=(--add-scram "SCRAM-SHA-512=[name=${name},password=${!var}]")
done
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted -t "$KAFKA_CLUSTER_ID" -c "$CONF" "${users[@]}"
exec /opt/kafka/bin/kafka-server-start.sh "$CONF"
