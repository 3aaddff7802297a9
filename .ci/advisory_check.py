"""Verdicts of the dependency audit (`.ci/audit`), kept out of the shell script so they can be tested.

Two sources, in this order:

- pip-audit's JSON report, when PyPI's advisory data answered for (nearly) every locked package;
- otherwise the PyPA advisory snapshot in `.ci/advisories.json` (PYSEC entries of
  github.com/pypa/advisory-database, OSV format), checked here with `packaging`.

A locked package absent from the snapshot fails the audit: a new dependency must be looked up
in the advisory database and recorded before the build passes (README, "Dependency audit").

Usage: ``python .ci/advisory_check.py REPORT STATUS REQUIREMENTS [SNAPSHOT]``; exits 1 on any
known-vulnerable or uncovered package.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

SNAPSHOT = Path(__file__).with_name("advisories.json")
# Below this share of packages audited, pip-audit is taken to have had no advisory data.
AUDITED_SHARE = 0.9
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
REFRESH_HINT = (
    "list vulns/{name}/ in github.com/pypa/advisory-database and record its PYSEC advisories "
    "(an empty list if it has none) in .ci/advisories.json; see README, 'Dependency audit'"
)


@dataclass(frozen=True)
class Hit:
    name: str
    version: str
    ids: tuple[str, ...]
    fixed: tuple[str, ...]

    def line(self) -> str:
        ids = ", ".join(self.ids)
        return f"audit: {self.name} {self.version} is vulnerable ({ids}); fixed in {list(self.fixed)}"


@dataclass(frozen=True)
class SnapshotVerdict:
    hits: tuple[Hit, ...]
    missing: tuple[tuple[str, str], ...]  # (name, version) locked but not in the snapshot
    packages: int
    advisories: int

    @property
    def ok(self) -> bool:
        return not self.hits and not self.missing


def locked_pins(requirements: str) -> dict[str, str]:
    """`name==version` pins of a requirements file (as `uv export` writes it), by normalized name."""
    pins: dict[str, str] = {}
    for raw in requirements.splitlines():
        match = _PIN.match(raw.strip())
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _event_key(event: Mapping[str, str]) -> tuple[int, Version]:
    # OSV: "introduced": "0" sorts before every version; otherwise events sort by version.
    kind, value = next(iter(event.items()))
    if kind == "introduced" and value == "0":
        return (0, Version("0"))
    parsed = _version(value)
    if parsed is None:
        raise ValueError(f"advisory event {event} has a version packaging cannot read")
    return (1, parsed)


def in_range(version: Version, events: Sequence[Mapping[str, str]]) -> bool:
    """Whether `version` lies in one OSV ECOSYSTEM range (introduced / fixed / last_affected events).

    Events are walked in version order, as the OSV schema evaluates them: an `introduced` at or
    below the version opens the range, a `fixed` at or below it closes it (so the fixed version
    itself is not affected), a `last_affected` below it closes it.
    """
    affected = False
    for event in sorted(events, key=_event_key):
        kind, value = next(iter(event.items()))
        bound = Version("0") if value == "0" else Version(value)
        if kind == "introduced" and version >= bound:
            affected = True
        elif kind == "fixed" and version >= bound:
            affected = False
        elif kind == "last_affected" and version > bound:
            affected = False
    return affected


def affects(advisory: Mapping[str, Any], version: str) -> bool:
    """Whether an advisory (OSV `affected` entry as recorded in the snapshot) covers `version`.

    A version is affected when it lies in any ECOSYSTEM range or appears in the `versions` list
    (compared as versions, so `2015.04.28` matches `2015.4.28`).
    """
    parsed = _version(version)
    listed: Iterable[str] = advisory.get("versions", [])
    if parsed is None:
        return version in listed
    if any(_version(v) == parsed for v in listed):
        return True
    return any(
        in_range(parsed, r["events"]) for r in advisory.get("ranges", []) if r.get("type") == "ECOSYSTEM"
    )


def check_snapshot(pins: Mapping[str, str], snapshot: Mapping[str, Any]) -> SnapshotVerdict:
    """Every locked pin against the snapshot's advisories; locked packages it lacks are `missing`."""
    packages: Mapping[str, Any] = snapshot["packages"]
    hits: list[Hit] = []
    missing: list[tuple[str, str]] = []
    advisories = 0
    for name, version in sorted(pins.items()):
        entry = packages.get(name)
        if entry is None:
            missing.append((name, version))
            continue
        advisories += len(entry["advisories"])
        found = [a for a in entry["advisories"] if affects(a, version)]
        if found:
            fixed = sorted({f for a in found for f in a.get("fixed", [])}, key=Version)
            hits.append(Hit(name, version, tuple(a["id"] for a in found), tuple(fixed)))
    return SnapshotVerdict(tuple(hits), tuple(missing), len(pins), advisories)


def snapshot_report(verdict: SnapshotVerdict, snapshot: Mapping[str, Any]) -> tuple[list[str], int]:
    """The audit's log lines for a snapshot check and its exit status."""
    lines = [hit.line() for hit in verdict.hits]
    lines += [
        f"audit: {name} {version} is locked but not in the advisory snapshot; "
        + REFRESH_HINT.format(name=name)
        for name, version in verdict.missing
    ]
    lines.append(
        f"audit: checked against the PyPA advisory snapshot of {snapshot['source']['snapshot']} "
        f"({verdict.packages} packages, {verdict.advisories} advisories), "
        f"{len(verdict.hits)} vulnerable, {len(verdict.missing)} not covered"
    )
    return lines, 0 if verdict.ok else 1


def pip_audit_report(report: Mapping[str, Any], status: int) -> tuple[list[str], int | None]:
    """pip-audit's verdict; status None when it could not audit (no advisory data reachable)."""
    deps: list[Mapping[str, Any]] = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    audited = [d for d in deps if "skip_reason" not in d]
    lines = []
    for d in vulnerable:
        ids = ", ".join(v["id"] for v in d["vulns"])
        fixes = sorted({f for v in d["vulns"] for f in v.get("fix_versions", [])})
        lines.append(f"audit: {d['name']} {d['version']} is vulnerable ({ids}); fixed in {fixes}")
    lines.append(
        f"audit: {len(audited)} of {len(deps)} locked packages audited, {len(vulnerable)} vulnerable"
    )
    if vulnerable or status not in (0, 1):
        return lines, 1
    if not deps or len(audited) < AUDITED_SHARE * len(deps):
        lines.append(
            f"audit: NOT CHECKED by pip-audit - the advisory service answered for {len(audited)} of "
            f"{len(deps)} packages; falling back to the advisory snapshot"
        )
        return lines, None
    return lines, 0


def main(argv: Sequence[str]) -> int:
    report_path, status, requirements = argv[0], int(argv[1]), argv[2]
    snapshot_path = Path(argv[3]) if len(argv) > 3 else SNAPSHOT
    report_text = Path(report_path).read_text()
    lines, verdict = pip_audit_report(json.loads(report_text) if report_text.strip() else {}, status)
    if verdict is None:
        snapshot = json.loads(snapshot_path.read_text())
        pins = locked_pins(Path(requirements).read_text())
        more, verdict = snapshot_report(check_snapshot(pins, snapshot), snapshot)
        lines += more
    print("\n".join(lines))
    return verdict


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
