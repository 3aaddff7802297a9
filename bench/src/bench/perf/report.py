"""A benchmark figure (a ratio against its goal), the table ``make bench`` prints, the JSON."""

from __future__ import annotations

import operator
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from bench.processes import CpuShare

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: round(a, 2) == b, "<=": operator.le, ">=": operator.ge, "<": operator.lt,
}


@dataclass
class Figure:
    key: str
    name: str
    value: float | None
    """The ratio (P5: seconds)."""
    goal: tuple[str, float]
    """(comparison, target), e.g. ("<=", 1.05)."""
    unit: str = ""
    detail: str = ""
    cpu: CpuShare | None = None
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def met(self) -> bool:
        return (self.error is None and self.value is not None
                and _COMPARE[self.goal[0]](self.value, self.goal[1]))

    @property
    def goal_text(self) -> str:
        op = {"<=": "≤", ">=": "≥"}.get(self.goal[0], self.goal[0])
        target = f"{self.goal[1]:.2f}" if op == "=" else f"{self.goal[1]:g}"
        return f"{op} {target}{self.unit}"

    @property
    def value_text(self) -> str:
        return "error" if self.value is None else f"{self.value:.2f}{self.unit}"

    def as_dict(self) -> dict[str, Any]:
        return {"figure": self.key, "name": self.name, "value": self.value,
                "goal": self.goal_text, "met": self.met, "detail": self.detail,
                "sandbox_cpu": self.cpu.as_dict() if self.cpu else None,
                "data": self.data, "error": self.error}


def sandbox_cpu_text(cpu: CpuShare | None) -> str:
    if cpu is None:
        return ""
    return (f"{100 * cpu.share('sandbox'):.0f}% of system CPU "
            f"({100 * cpu.of_machine('sandbox'):.0f}% of machine; "
            f"system {100 * cpu.of_machine():.0f}%)")


def table(figures: list[Figure]) -> Table:
    out = Table(title="Benchmarks (ratios measured side by side in one run)", show_lines=True)
    for column in ("", "figure", "value", "goal", "met", "sandbox CPU", "measured"):
        out.add_column(column, overflow="fold")
    for f in figures:
        out.add_row(f.key, f.name, f.value_text, f.goal_text,
                    "[green]yes[/green]" if f.met else "[red]no[/red]", sandbox_cpu_text(f.cpu),
                    f.error or f.detail)
    return out


def markdown(figures: list[Figure]) -> str:
    lines = ["| | figure | value | goal | met | sandbox CPU | measured |",
             "|---|---|---|---|---|---|---|"]
    for f in figures:
        lines.append(f"| {f.key} | {f.name} | {f.value_text} | {f.goal_text} | "
                     f"{'yes' if f.met else '**no**'} | {sandbox_cpu_text(f.cpu)} | "
                     f"{f.error or f.detail} |")
    return "\n".join(lines)


def print_table(figures: list[Figure], console: Console | None = None) -> None:
    (console or Console()).print(table(figures))


def machine() -> dict[str, Any]:
    """What a results file says about the machine it was measured on."""
    return {"cpus": psutil.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform()}
