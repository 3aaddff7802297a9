"""The system the fault scenarios run against, and how big each scenario is.

Everything is the real thing on loopback: embedded Kafka behind a TCP proxy (R2 cuts it;
the broker advertises the proxy, so no client goes around it), embedded PostgreSQL, the
sandbox, the three services and the sink as separate processes.

Two settings differ from production, both to keep the suite within minutes:

* Exact's token rules on a shorter time scale: access tokens live 60 s (40 s in the small
  suite) and may be refreshed in their last 30 s (instead of 600 s and 570 s after issue;
  the sandbox refuses a refresh while more than 30 s are left). Auth reads the lifetime
  from each token (``expires_in``), so no auth setting changes. Tokens are then refreshed
  all through the suite and R8 needs no ten-minute wait.
* Ingest gives a call 5 s (not 60 s) before treating it as timed out (R3), and a dead
  replica's runs are taken over after 3 s (R1).
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.proxy import BrokerProxy
from connector_demo.system import LocalSystem
from connector_runtime.access import token_sha256
from connector_runtime.devstack.embedded import EmbeddedKafka, free_port

REFRESH_WINDOW_S = 30
"""Exact refuses a refresh while more of the access token's life is left than this."""

R1_DIVISION = 930001
R2_DIVISION = 930002
R3_DIVISION = 930003
R4_DIVISION = 200002  # Dirk's: R4 withdraws every grant of his
R5_DIVISION = 930005
R6_DIVISION = 100001  # Anna's
R6_STRANGER_DIVISION = 200003  # Dirk's smallest company: the stranger of R6's attacks
R8_DIVISION = 100001
R9_DIVISIONS = (930009, 930019, 930029)  # fault-free, one spurious 401, fault mix + 401
R11_DIVISION = 930011
R12_DIVISIONS = (930012, 930022)  # 60 s tokens, 600 s tokens
R10_DIVISIONS = (300001, 300002, R1_DIVISION, R2_DIVISION, R3_DIVISION, R5_DIVISION,
                 *R9_DIVISIONS, R11_DIVISION, *R12_DIVISIONS)
"""Eva's companies R10 signs in to in turn: a sign-in makes some 13 calls in its company,
so 100 of them in one company within a minute or two would spend its minutely limit."""


@dataclass(frozen=True)
class Scale:
    """How big each scenario is: ``FULL`` for ``make faults``, ``SMALL`` inside ``make test``."""

    name: str
    run_rows: int
    """TransactionLines of the divisions R1-R4 import."""
    minutely_limit: int
    """Calls a minute per company: sets how long a run lasts, so faults land inside it."""
    ingest_kills: int
    partition_cuts: int
    cut_seconds: float
    hostile_messages: int
    token_lifetime_s: int = 60
    """Access token lifetime at the sandbox; auth may refresh ``REFRESH_WINDOW_S`` before."""
    run_timeout: float = 900.0
    mix_rows: int = 20_000
    """TransactionLines of the divisions of R9, R11 and R12 (the issue's 20,000-line run)."""
    signins: int = 100
    """Sign-ins of R10."""
    long_tokens: bool = True
    """R12 also runs with Exact's 600 s tokens (a run of over ten minutes)."""


FULL = Scale("full", run_rows=100_000, minutely_limit=600, ingest_kills=20, partition_cuts=5,
             cut_seconds=10.0, hostile_messages=1000)
SMALL = Scale("small", run_rows=10_000, minutely_limit=600, ingest_kills=3, partition_cuts=2,
              cut_seconds=3.0, hostile_messages=120, token_lifetime_s=40, run_timeout=300.0,
              mix_rows=5_000, signins=20, long_tokens=False)


@dataclass
class FaultStack:
    system: LocalSystem
    kafka: EmbeddedKafka
    proxy: BrokerProxy
    scale: Scale
    notes: list[str] = field(default_factory=list)
    tenant_token: str = ""
    """A read-API caller limited to a company domain of its own (R6's cross-tenant calls)."""

    def stop(self) -> None:
        self.system.stop()
        self.proxy.stop()
        self.kafka.stop()


def sandbox_args(scale: Scale) -> list[str]:
    sizes = {R1_DIVISION: scale.run_rows, R2_DIVISION: scale.run_rows,
             R3_DIVISION: scale.run_rows, R5_DIVISION: 3000, R11_DIVISION: scale.mix_rows,
             **{d: scale.mix_rows for d in (*R9_DIVISIONS, *R12_DIVISIONS)}}
    args = ["--minutely-limit", str(scale.minutely_limit), "--daily-limit", "10000000",
            "--token-daily-limit", "1000000",
            "--access-token-lifetime", str(scale.token_lifetime_s),
            "--division-size", f"{R4_DIVISION}={scale.run_rows}"]
    for division, rows in sizes.items():
        args += ["--extra-division", f"{division}={rows}"]
    return args


def service_env(scale: Scale) -> dict[str, str]:
    return {
        "INGEST_EXACT_MINUTELY_LIMIT": str(scale.minutely_limit),
        "INGEST_LEASE_SECONDS": "3",
        "INGEST_EXACT_TIMEOUT_SECONDS": "5",
        "INGEST_MAX_CONCURRENT_RUNS": "8",
        "AUTH_SHARE_LINK_TTL_SECONDS": "20",
    }


def start_stack(work_dir: Path, scale: Scale) -> FaultStack:
    work_dir.mkdir(parents=True, exist_ok=True)
    proxy_port = free_port()
    kafka = EmbeddedKafka(log_dir=work_dir, advertised_port=proxy_port).start()
    proxy: BrokerProxy | None = None
    try:
        proxy = BrokerProxy(proxy_port, kafka.bootstrap_servers, work_dir / "proxy.log").start()
        system = LocalSystem(work_dir=work_dir, sandbox_args=sandbox_args(scale),
                             extra_env=service_env(scale), session_timeout_ms=3000,
                             bootstrap=proxy.address)
        tenant_token = secrets.token_urlsafe(32)
        system.extra_env["DATASOURCE_API_CLIENTS"] = json.dumps([
            {"name": "operator", "token_sha256": token_sha256(system.secrets.operator_api_token),
             "scopes": ["read"]},
            {"name": "tenant-b", "token_sha256": token_sha256(tenant_token), "scopes": ["read"],
             "company_domains": [str(uuid.uuid4())]}])
        system.start()
    except BaseException:
        if proxy is not None:
            proxy.stop()
        kafka.stop()
        raise
    return FaultStack(system, kafka, proxy, scale, tenant_token=tenant_token)
