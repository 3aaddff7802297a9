"""Measure the sandbox's cost of serving TransactionLines: CPU ms per 1000-row page and RSS.

Starts the sandbox in a subprocess (so its CPU and memory are measured alone), pages through
1,000,000 TransactionLines of division 300001 with every connector field selected, and prints
server CPU per page and RSS after 10k and after 1M rows. Not a test: run it by hand.

    uv run python sandbox/exact/bench_sandbox.py [--rows 1000000] [--endpoint sync|bulk]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time

import httpx
import psutil

FIELDS = ("ID,EntryID,EntryNumber,LineNumber,Division,Date,Created,Modified,FinancialYear,"
          "FinancialPeriod,GLAccount,GLAccountCode,GLAccountDescription,AmountDC,AmountFC,"
          "Currency,ExchangeRate,JournalCode,JournalDescription,Description,CostCenter,"
          "CostUnit,Account,AccountCode,AccountName,Type,Status")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--endpoint", choices=("sync", "bulk"), default="sync")
    args = parser.parse_args()
    port = _free_port()
    cmd = [sys.executable, "-c", "from exact_sandbox.cli import app; app()", "--port", str(port),
           "--minutely-limit", "1000000000", "--daily-limit", "1000000000",
           "--division-size", f"300001={args.rows}"]
    server = subprocess.Popen(cmd)  # noqa: S603 - our own interpreter and module
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.get("/_sandbox/health")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            proc = psutil.Process(server.pid)
            token = client.post("/_sandbox/grants",
                                json={"username": "eva.large@demo.nl"}).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            select = FIELDS + (",Timestamp" if args.endpoint == "sync" else "")
            path = ("sync/Financial/TransactionLines" if args.endpoint == "sync"
                    else "bulk/Financial/TransactionLines")
            url: str | None = f"/api/v1/300001/{path}?$select={select}"
            if args.endpoint == "sync":
                url += "&$filter=Timestamp gt 1L"
            rss0 = proc.memory_info().rss
            marks: dict[int, tuple[float, int]] = {}
            pages = rows = 0
            cpu_start = _cpu(proc)
            wall = time.perf_counter()
            while url:
                body = client.get(url, headers=headers).content
                pages += 1
                rows += body.count(b'"EntryID"')
                pos = body.rfind(b'"__next":"')
                url = body[pos + 10: body.rfind(b'"}}')].decode() if pos >= 0 else None
                if pages in (10, 100):
                    marks[pages] = (_cpu(proc), proc.memory_info().rss)
            cpu_end, rss_end = _cpu(proc), proc.memory_info().rss
            elapsed = time.perf_counter() - wall
            after_10 = marks.get(10, (cpu_start, rss0))
            result = {
                "endpoint": args.endpoint, "rows": rows, "pages": pages,
                "server_cpu_ms_per_page": round((cpu_end - cpu_start) * 1000 / pages, 2),
                "server_cpu_ms_per_page_after_warmup": round(
                    (cpu_end - after_10[0]) * 1000 / max(1, pages - 10), 2),
                "rss_mb_before": round(rss0 / 2**20, 1),
                "rss_mb_after_10k_rows": round(after_10[1] / 2**20, 1),
                "rss_mb_after_all_rows": round(rss_end / 2**20, 1),
                "wall_s": round(elapsed, 1),
            }
            print(json.dumps(result, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
