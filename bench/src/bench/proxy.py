"""A loopback TCP proxy in front of the broker that can cut every connection for a while.

Runs as its own process (``python -m bench.proxy --listen P --upstream HOST:PORT``) so
it keeps forwarding however busy the suite's own process is. A line ``cut SECONDS`` on
its stdin closes every open connection at once and refuses new ones (accepted, then
closed) for that long: to every client the broker is gone, as in a network partition
that resets connections. The broker advertises the proxy's address, so clients never
reach the broker around it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import time
from pathlib import Path

_CHUNK = 1 << 16


class _Proxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.cut_until = 0.0
        self.writers: set[asyncio.StreamWriter] = set()
        self.accepted = 0
        self.refused = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if time.monotonic() < self.cut_until:
            self.refused += 1
            writer.transport.abort()
            return
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self.writers.update((writer, up_writer))
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self.writers.discard(w)
                w.transport.abort()

    def cut(self, seconds: float) -> int:
        self.cut_until = time.monotonic() + seconds
        cut = len(self.writers)
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        return cut


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()  # one side closed: close the other, so neither hangs


async def _serve(listen: int, upstream: str) -> None:
    host, port = upstream.rsplit(":", 1)
    proxy = _Proxy(host, int(port))
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", listen)
    print(f"proxy listening on 127.0.0.1:{listen} -> {upstream}", flush=True)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with server:
        while line := await stdin.readline():
            words = line.decode().split()
            if words[:1] == ["cut"]:
                seconds = float(words[1])
                n = proxy.cut(seconds)
                print(f"cut {n} connections for {seconds}s", flush=True)
            elif words[:1] == ["stats"]:
                print(f"accepted={proxy.accepted} refused={proxy.refused}", flush=True)


class BrokerProxy:
    """The proxy process, from the suite's side."""

    def __init__(self, listen_port: int, upstream: str, log: Path) -> None:
        self.listen_port = listen_port
        self.upstream = upstream
        self.log = log
        self.cuts = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.listen_port}"

    def start(self, timeout: float = 15.0) -> BrokerProxy:
        import socket

        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(  # noqa: S603 - this interpreter, this module
                [sys.executable, "-m", "bench.proxy", "--listen", str(self.listen_port),
                 "--upstream", self.upstream],
                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.listen_port), 0.2):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the broker proxy did not listen on {self.address}")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def cut(self, seconds: float) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(f"cut {seconds}\n".encode())
        self._proc.stdin.flush()
        self.cuts += 1

    def stop(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.listen, args.upstream))


if __name__ == "__main__":
    main()
