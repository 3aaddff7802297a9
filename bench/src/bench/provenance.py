"""Which code published figures come from: every figure block of bench/README.md names the
commit and date of the full run that wrote it, and a test fails when that commit's suite
code (the suites and everything they run) differs from HEAD's while the block does not say
it is stale.

A block's first line is a marker, then a line a reader sees::

    <!-- measured: commit=<sha> date=<YYYY-MM-DD> state=current -->
    Measured by `make bench` on commit `<sha7>` (<date>).

``state=stale`` (with a visible "Stale:" line) when the figures no longer describe the
code: written by a run on a working tree with uncommitted suite changes or during which
the suite code was committed to, or by ``python -m bench.provenance mark-stale`` when the
code moved on and nobody reran them. A run during which only bench/README.md or other
non-suite files were committed names the commit it started on and stays current.

``python -m bench.provenance check`` prints each block's status (what the test asserts).
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.readme import README

ROOT = Path(__file__).resolve().parents[3]
SUITE_PATHS = ("bench", "services", "libs", "sandbox", "demo", "cli", "examples", "uv.lock")
"""The suites, the services and libraries they measure, the system they start, the locked
dependencies. A change anywhere here may change a figure."""
NOT_SUITE_CODE = ("bench/README.md", "**/tests/**")
"""The figures' own page: writing the blocks must not make them stale; and the test folders
(the suites never run them; a test-only change left the published figures labelled stale)."""
BLOCKS = {"bench:results": "make bench", "faults:results": "make faults",
          "bench-scale:results": "make bench-scale"}

_MARKER = re.compile(r"<!-- measured: commit=(?P<commit>\S+) date=(?P<date>\S+) "
                     r"state=(?P<state>current|stale) -->")


class GitUnavailable(RuntimeError):
    """git, the repository or the commit is not there to compare with."""


def git(*args: str, root: Path = ROOT) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,  # noqa: S603,S607
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitUnavailable(f"git could not run: {exc}") from exc


def _pathspec() -> list[str]:
    return [*SUITE_PATHS, *(f":(exclude,glob){p}" for p in NOT_SUITE_CODE)]


def head(root: Path = ROOT) -> str:
    found = git("rev-parse", "HEAD", root=root)
    if found.returncode != 0:
        raise GitUnavailable(f"not a git checkout: {found.stderr.strip()}")
    return found.stdout.strip()


def uncommitted(root: Path = ROOT) -> bool:
    """Suite code in the working tree differs from HEAD (ignored files aside)."""
    found = git("status", "--porcelain", "--", *_pathspec(), root=root)
    if found.returncode != 0:
        raise GitUnavailable(found.stderr.strip())
    return bool(found.stdout.strip())


def same_suite_code(commit: str, root: Path = ROOT) -> bool:
    """The suite code of ``commit`` is HEAD's; GitUnavailable when the commit is not here."""
    if git("cat-file", "-e", f"{commit}^{{commit}}", root=root).returncode != 0:
        raise GitUnavailable(f"commit {commit} is not in this clone (a shallow clone?)")
    found = git("diff", "--quiet", commit, "HEAD", "--", *_pathspec(), root=root)
    if found.returncode not in (0, 1):
        raise GitUnavailable(found.stderr.strip())
    return found.returncode == 0


def stamp(command: str, when: datetime, root: Path = ROOT) -> str:
    """The first lines of a block a full run of ``command`` writes now."""
    date = f"{when:%Y-%m-%d}"
    try:
        commit, changed = head(root), uncommitted(root)
    except GitUnavailable as exc:
        return (f"<!-- measured: commit=unknown date={date} state=stale -->\n"
                f"**Stale:** measured by `{command}` on {date} outside a git checkout ({exc}), "
                "so no commit is known to hold the code these figures come from.")
    if changed:
        return (f"<!-- measured: commit={commit} date={date} state=stale -->\n"
                f"**Stale:** measured by `{command}` on {date} with uncommitted changes on top "
                f"of commit `{commit[:7]}`, so no commit holds the code these figures come "
                f"from; rerun `{command}` on a clean checkout.")
    return _current(command, commit, date)


def _current(command: str, commit: str, date: str) -> str:
    return (f"<!-- measured: commit={commit} date={date} state=current -->\n"
            f"Measured by `{command}` on commit `{commit[:7]}` ({date}).")


def stamp_after_run(command: str, when: datetime, at_start: str, root: Path = ROOT) -> str:
    """The stamp for a run that began with stamp ``at_start``: it names the commit the run
    measured, and is stale if the suite code moved meanwhile. Commits that leave the suite
    code alone (bench/README.md, docs) do not make it stale; the comparison is the check's
    (:func:`same_suite_code`)."""
    now = stamp(command, when, root)
    if "state=stale" in now:
        return now
    start = _MARKER.search(at_start.split("\n", 1)[0])
    if start is None or start["state"] != "current":
        return at_start
    measured = start["commit"]
    try:
        unchanged = same_suite_code(measured, root)
    except GitUnavailable:
        unchanged = False
    if unchanged:
        return _current(command, measured, f"{when:%Y-%m-%d}")
    return (f"<!-- measured: commit={measured} date={when:%Y-%m-%d} state=stale -->\n"
            f"**Stale:** the suite code changed while `{command}` ran ({when:%Y-%m-%d}; started "
            f"on commit `{measured[:7]}`, ended on `{head(root)[:7]}`); rerun it.")


@dataclass(frozen=True)
class Block:
    name: str
    commit: str | None
    date: str | None
    state: str | None
    text: str

    @property
    def labelled_stale(self) -> bool:
        return self.state == "stale" and "**Stale:**" in self.text


def blocks(readme: Path = README) -> list[Block]:
    content = readme.read_text()
    found = []
    for name in BLOCKS:
        match = re.search(rf"<!-- {re.escape(name)} -->\n(.*?)<!-- /{re.escape(name)} -->",
                          content, re.S)
        if match is None:
            found.append(Block(name, None, None, None, ""))
            continue
        text = match.group(1)
        marker = _MARKER.search(text.split("\n", 1)[0])
        found.append(Block(name, marker["commit"] if marker else None,
                           marker["date"] if marker else None,
                           marker["state"] if marker else None, text))
    return found


def problem(block: Block, root: Path = ROOT) -> str | None:
    """Why the block misleads a reader; None when it is honest. GitUnavailable when the
    commit cannot be compared here."""
    command = BLOCKS[block.name]
    if not block.text:
        return f"bench/README.md has no {block.name} block"
    if block.labelled_stale:
        return None
    if block.commit is None or block.state != "current":
        return (f"{block.name}: figures without the commit they come from; rerun `{command}` "
                f"or label them stale (python -m bench.provenance mark-stale)")
    if not same_suite_code(block.commit, root):
        return (f"{block.name}: figures from commit {block.commit[:7]}, but the suite code "
                f"changed since (git diff {block.commit[:7]} HEAD -- {' '.join(SUITE_PATHS)}); "
                f"rerun `{command}` or label them stale (python -m bench.provenance mark-stale)")
    return None


def mark_stale(readme: Path = README, root: Path = ROOT) -> list[str]:
    """Label every block whose figures are not from HEAD's suite code; the names labelled."""
    content = readme.read_text()
    labelled = []
    now = head(root)
    for block in blocks(readme):
        try:
            honest = problem(block, root) is None
        except GitUnavailable:
            honest = False
        if honest or not block.text:
            continue
        body = block.text.split("\n", 2)[2] if block.commit else block.text
        body = body if body.startswith("\n") else "\n" + body  # a table needs a blank line
        measured = (f"on commit `{block.commit[:7]}` ({block.date})" if block.commit
                    else "before commits were recorded")
        line = (f"<!-- measured: commit={block.commit or 'unknown'} date={block.date or 'unknown'} "
                f"state=stale -->\n**Stale:** the figures below predate commit `{now[:7]}` "
                f"(measured {measured}); the code they measure changed since. Rerun "
                f"`{BLOCKS[block.name]}` for current figures.\n")
        content = content.replace(f"<!-- {block.name} -->\n{block.text}",
                                  f"<!-- {block.name} -->\n{line}{body}", 1)
        labelled.append(block.name)
    readme.write_text(content)
    return labelled


def main() -> None:
    action = sys.argv[1] if len(sys.argv) > 1 else "check"
    if action == "mark-stale":
        print(f"labelled stale: {', '.join(mark_stale()) or 'none'}")
        return
    failed = False
    for block in blocks():
        try:
            found = problem(block)
        except GitUnavailable as exc:
            found, failed = f"{block.name}: cannot be checked: {exc}", True
        failed |= found is not None
        status = "stale (labelled)" if block.labelled_stale else "current"
        print(found or f"{block.name}: {status}, commit {block.commit or '-'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
