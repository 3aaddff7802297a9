"""CPU time and memory of the system's processes, read with psutil.

:class:`CpuMeter` takes CPU-time snapshots of every part (sandbox, services, sink,
broker, database with its backends) so a figure can say how much of the machine the
sandbox took while it was measured. :class:`PeakRss` samples one process's resident
memory in a background thread.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import psutil

from connector_demo.system import LocalSystem


def _tree_cpu(pid: int) -> float:
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            continue
    return total


def system_pids(system: LocalSystem, extra: dict[str, int] | None = None) -> dict[str, int]:
    pids = {name: p.proc.pid for name, p in system.processes.items() if p.alive()}
    if system.kafka is not None and system.kafka.pid is not None:
        pids["kafka"] = system.kafka.pid
    if system.postgres is not None and system.postgres.pid is not None:
        pids["postgres"] = system.postgres.pid
    pids.update(extra or {})
    return pids


@dataclass
class CpuShare:
    seconds: float
    """Wall seconds measured."""
    cpu: dict[str, float]
    """CPU seconds per part."""

    @property
    def total(self) -> float:
        return sum(self.cpu.values())

    def share(self, part: str) -> float:
        """``part``'s fraction of all CPU the system used."""
        return self.cpu.get(part, 0.0) / self.total if self.total else 0.0

    def of_machine(self, part: str | None = None) -> float:
        """CPU used (by ``part`` or all) as a fraction of the machine (every core)."""
        used = self.cpu.get(part, 0.0) if part else self.total
        return used / (self.seconds * (os.cpu_count() or 1)) if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {"wall_seconds": round(self.seconds, 2),
                "cpu_seconds": {k: round(v, 2) for k, v in sorted(self.cpu.items())},
                "sandbox_share_of_system_cpu": round(self.share("sandbox"), 3),
                "sandbox_share_of_machine": round(self.of_machine("sandbox"), 3),
                "system_share_of_machine": round(self.of_machine(), 3)}


class CpuMeter:
    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._start = time.monotonic()
        self._cpu = {name: _tree_cpu(pid) for name, pid in pids.items()}

    def stop(self) -> CpuShare:
        now = {name: _tree_cpu(pid) for name, pid in self._pids.items()}
        return CpuShare(time.monotonic() - self._start,
                        {name: max(0.0, now[name] - self._cpu[name]) for name in now})


class PeakRss:
    """Highest resident set size of one process while running (sampled every 50 ms)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self._proc = psutil.Process(pid)
        self._interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> PeakRss:
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(self._interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, high_water_mark(self._proc.pid) or 0)


def high_water_mark(pid: int) -> int | None:
    """The kernel's peak resident set size of ``pid`` (VmHWM), in bytes, where available."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
