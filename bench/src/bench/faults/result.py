"""One scenario's outcome: its figures, PASS or FAIL, and the one line the suite prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ScenarioResult:
    number: int
    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def expect(self, condition: bool, failure: str) -> bool:
        if not condition:
            self.failures.append(failure)
        return condition

    def line(self) -> str:
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in self.figures.items()
                          if not isinstance(v, dict | list))
        return f"R{self.number} {self.name}: {shown} {'PASS' if self.ok else 'FAIL'}"

    def as_dict(self) -> dict[str, Any]:
        return {"scenario": f"R{self.number}", "name": self.name, "ok": self.ok,
                "seconds": round(self.seconds, 1), "figures": self.figures,
                "failures": self.failures}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
