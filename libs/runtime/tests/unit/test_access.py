"""Callers, tokens and scopes of the services' APIs; claims; the two listeners; Kafka auth."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import Depends, FastAPI

from connector_runtime.access import ApiClient, identify, new_client, require, token_sha256
from connector_runtime.listeners import ListenerSplit
from connector_runtime.messaging.claims import ClaimError, ClaimSigner, ClaimVerifier, new_key_pair
from connector_runtime.messaging.kafka_auth import KafkaAuth


def _app(*clients: ApiClient) -> FastAPI:
    app = FastAPI()
    app.state.api_clients = clients

    @app.get("/read", dependencies=[Depends(require("read"))])
    async def read() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/metrics")
    async def metrics() -> str:
        return "series"

    @app.get("/healthz")
    async def healthz() -> str:
        return "alive"

    return app


async def test_only_a_known_token_with_the_scope_gets_in() -> None:
    reader, writer = ApiClient(name="r", token_sha256=token_sha256("t-read"), scopes=("read",)), \
        ApiClient(name="w", token_sha256=token_sha256("t-write"), scopes=("write",))
    transport = httpx.ASGITransport(app=_app(reader, writer))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        assert (await client.get("/read")).status_code == 401
        assert (await client.get("/read", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (await client.get("/read", headers={"Authorization": "Bearer t-write"})).status_code == 403
        assert (await client.get("/read", headers={"Authorization": "bearer t-read"})).status_code == 200
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()),
                                 base_url="http://svc") as client:  # no callers: nobody
        assert (await client.get("/read", headers={"Authorization": "Bearer t-read"})).status_code == 401


def test_a_new_client_entry_lets_its_token_in_and_can_be_limited_to_tenants() -> None:
    domain = uuid.uuid4()
    token, entry = new_client("portal", ["read"], [str(domain)])
    client = ApiClient.model_validate_json(entry)
    assert identify([client], f"Bearer {token}") == client
    assert client.may_read_domain(domain) and not client.may_read_domain(uuid.uuid4())
    assert token not in entry


async def test_the_internal_listener_serves_metrics_and_the_public_one_does_not() -> None:
    app = ListenerSplit(_app(), internal_port=9000)
    public = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc:8000")
    internal = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc:9000")
    async with public, internal:
        assert (await public.get("/metrics")).status_code == 404
        assert (await internal.get("/metrics")).status_code == 200
        assert (await internal.get("/read")).status_code == 404
        assert (await public.get("/read")).status_code == 401
        assert (await public.get("/healthz")).status_code == 200
        assert (await internal.get("/healthz")).status_code == 200
        assert (await public.get("/metrics/../metrics")).status_code == 404


def test_a_claim_verifies_only_for_its_data_source_grant_and_division() -> None:
    private, public = new_key_pair("k1")
    _other_private, other_public = new_key_pair("k2")
    ds, grant = uuid.uuid4(), uuid.uuid4()
    claim = ClaimSigner(private).sign(ds, grant, 101)
    verifier = ClaimVerifier(f"{other_public},{public}")
    verifier.verify(claim, ds, grant, 101)
    for args in ((uuid.uuid4(), grant, 101), (ds, uuid.uuid4(), 101), (ds, grant, 102)):
        with pytest.raises(ClaimError):
            verifier.verify(claim, *args)
    for bad in (None, "", "k3.AAAA", "k1.not-base64!", "k1"):
        with pytest.raises(ClaimError):
            verifier.verify(bad, ds, grant, 101)
    with pytest.raises(ClaimError):
        ClaimVerifier(other_public).verify(claim, ds, grant, 101)


def test_kafka_auth_gives_scram_options_or_none() -> None:
    assert KafkaAuth().client_options() == {} and KafkaAuth().broker_security() is None
    scram = KafkaAuth("SASL_PLAINTEXT", "SCRAM-SHA-512", "ingest", "pw")
    assert scram.client_options()["sasl_mechanism"] == "SCRAM-SHA-512"
    assert scram.broker_security() is not None
    assert "pw" not in repr(scram)
    with pytest.raises(ValueError):
        KafkaAuth("SASL_SSL")
