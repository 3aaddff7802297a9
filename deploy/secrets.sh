#!/usr/bin/env bash
# Prints a fresh .env for docker-compose.yml: every key, token and password the stack needs.
#   deploy/secrets.sh > .env && chmod 600 .env      (once; keep .env out of version control)
# Give PORTAL_API_TOKEN to the portal backend (auth's links) and OPERATOR_API_TOKEN to the
# operators' CLI (datasource's read API); the services get only the SHA-256 of these tokens.
# How to rotate each of them: deploy/security.md.
set -euo pipefail
py() { uv run --frozen python "$@"; }
rand() { py -c 'import secrets; print(secrets.token_urlsafe(32))'; }
sha() { py -c 'import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())' "$1"; }
INGEST_API_TOKEN=$(rand); PORTAL_API_TOKEN=$(rand); OPERATOR_API_TOKEN=$(rand)
read -r SIGNING VERIFY < <(py -c 'from connector_runtime.messaging.claims import new_key_pair; print(*new_key_pair("k1"))')
cat <<ENV
EXACT_CLIENT_ID=
EXACT_CLIENT_SECRET=
AUTH_PUBLIC_BASE_URL=https://connect.example.com
TOKEN_ENCRYPTION_KEY=$(py -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
LINK_SIGNING_KEY=$(rand)
INGEST_API_TOKEN=$INGEST_API_TOKEN
PORTAL_API_TOKEN=$PORTAL_API_TOKEN
OPERATOR_API_TOKEN=$OPERATOR_API_TOKEN
AUTH_API_CLIENTS='[{"name":"ingest","token_sha256":"$(sha "$INGEST_API_TOKEN")","scopes":["access_tokens"]},{"name":"portal","token_sha256":"$(sha "$PORTAL_API_TOKEN")","scopes":["links"]}]'
DATASOURCE_API_CLIENTS='[{"name":"portal","token_sha256":"$(sha "$PORTAL_API_TOKEN")","scopes":["read"]},{"name":"operator","token_sha256":"$(sha "$OPERATOR_API_TOKEN")","scopes":["read"]}]'
INGEST_API_CLIENTS='[{"name":"operator","token_sha256":"$(sha "$OPERATOR_API_TOKEN")","scopes":["runs"]}]'
RUN_CLAIM_SIGNING_KEY=$SIGNING
RUN_CLAIM_VERIFY_KEYS=$VERIFY
KAFKA_ADMIN_PASSWORD=$(rand)
KAFKA_AUTH_PASSWORD=$(rand)
KAFKA_DATASOURCE_PASSWORD=$(rand)
KAFKA_INGEST_PASSWORD=$(rand)
KAFKA_PORTAL_PASSWORD=$(rand)
KAFKA_SINK_PASSWORD=$(rand)
POSTGRES_PASSWORD=$(rand)
ENV
