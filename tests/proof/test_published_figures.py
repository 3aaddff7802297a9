"""bench/README.md's figures name the commit they come from, and are either from HEAD's
suite code or visibly labelled stale (:mod:`bench.provenance`)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.provenance import (
    GitUnavailable,
    blocks,
    mark_stale,
    problem,
    same_suite_code,
    stamp,
    stamp_after_run,
)
from bench.readme import update_block


def test_readme_figure_blocks_are_from_the_current_code_or_labelled_stale() -> None:
    found = blocks()
    assert [b.name for b in found] == ["bench:results", "faults:results", "bench-scale:results"]
    for block in found:
        try:
            wrong = problem(block)
        except GitUnavailable as exc:  # e.g. a shallow clone without the block's commit
            pytest.skip(f"{block.name} names commit {block.commit}, which cannot be compared "
                        f"here: {exc}")
        assert wrong is None, wrong


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                          text=True).stdout.strip()


def _commit(root: Path, path: str, text: str) -> str:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text)
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-qm", path)
    return _git(root, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    _commit(tmp_path, "services/ingest/runner.py", "v1\n")
    return tmp_path


def _readme(repo: Path, bench_block: str, faults_block: str) -> Path:
    readme = repo / "bench" / "README.md"
    readme.parent.mkdir(exist_ok=True)
    readme.write_text(f"# figures\n<!-- bench:results -->\n{bench_block}\n| P1 | 1.00 |\n"
                      f"<!-- /bench:results -->\n<!-- faults:results -->\n{faults_block}\n"
                      f"R1 PASS\n<!-- /faults:results -->\n<!-- bench-scale:results -->\n"
                      f"{bench_block.replace('make bench', 'make bench-scale')}\n| P7/1 | 0.95 |\n"
                      f"<!-- /bench-scale:results -->\n")
    return readme


def test_figures_whose_code_changed_since_fail_until_rerun_or_labelled_stale(repo: Path) -> None:
    when = datetime(2026, 12, 6, tzinfo=UTC)
    readme = _readme(repo, stamp("make bench", when, repo), stamp("make faults", when, repo))
    _commit(repo, "bench/README.md", readme.read_text())  # publishing figures changes nothing
    assert [problem(b, repo) for b in blocks(readme)] == [None, None, None]

    _commit(repo, "services/ingest/runner.py", "v2: faster\n")  # the measured code moves on
    found = [problem(b, repo) for b in blocks(readme)]
    assert all(p is not None and "changed since" in p for p in found), found

    assert mark_stale(readme, repo) == ["bench:results", "faults:results",
                                        "bench-scale:results"]
    text = readme.read_text()
    assert text.count("**Stale:** the figures below predate commit") == 3
    assert "| P1 | 1.00 |" in text and "R1 PASS" in text  # the figures stay, labelled
    assert [problem(b, repo) for b in blocks(readme)] == [None, None, None]


def test_a_change_to_tests_alone_keeps_the_figures_current(repo: Path) -> None:
    when = datetime(2026, 12, 6, tzinfo=UTC)
    readme = _readme(repo, stamp("make bench", when, repo), stamp("make faults", when, repo))
    _commit(repo, "bench/README.md", readme.read_text())
    _commit(repo, "cli/tests/test_dlq.py", "a steadier assertion\n")
    _commit(repo, "services/ingest/tests/unit/test_runner.py", "one more case\n")
    assert [problem(b, repo) for b in blocks(readme)] == [None, None, None]
    (repo / "libs/contracts/tests").mkdir(parents=True)
    (repo / "libs/contracts/tests/test_x.py").write_text("not committed\n")
    assert "state=current" in stamp("make bench", when, repo)
    _commit(repo, "services/ingest/tests.py", "a module, not a test folder\n")
    assert all("changed since" in (problem(b, repo) or "") for b in blocks(readme))


def test_figures_without_a_commit_or_from_uncommitted_code_are_not_current(repo: Path) -> None:
    readme = _readme(repo, "| old table |", "R1 PASS")
    assert all("without the commit" in (problem(b, repo) or "") for b in blocks(readme))
    (repo / "services/ingest/runner.py").write_text("edited, not committed\n")
    dirty = stamp("make bench", datetime(2026, 12, 6, tzinfo=UTC), repo)
    assert "state=stale" in dirty and "**Stale:**" in dirty


def test_a_commit_missing_from_the_clone_cannot_be_compared(repo: Path) -> None:
    with pytest.raises(GitUnavailable, match="not in this clone"):
        same_suite_code("0" * 40, repo)


def test_a_full_run_writes_its_commit_into_the_block(repo: Path) -> None:
    readme = _readme(repo, "| old |", "R1 old")
    _commit(repo, "bench/README.md", readme.read_text())
    when = datetime(2026, 12, 6, tzinfo=UTC)
    at_start = stamp("make faults", when, repo)
    assert update_block("faults:results", f"{stamp_after_run('make faults', when, at_start, repo)}"
                        f"\n\n```\nR1 kill -9: PASS\n```", readme)
    block = blocks(readme)[1]
    assert block.commit == _git(repo, "rev-parse", "HEAD") and block.state == "current"
    assert "Measured by `make faults` on commit" in block.text and problem(block, repo) is None
    # the code moved during the run: the figures are written, labelled stale
    _commit(repo, "services/ingest/runner.py", "changed mid-run\n")
    assert "state=stale" in stamp_after_run("make faults", when, at_start, repo)


def test_a_readme_commit_during_a_run_keeps_the_figures_current_naming_the_measured_commit(
        repo: Path) -> None:
    readme = _readme(repo, "| old |", "R1 old")
    measured = _commit(repo, "bench/README.md", readme.read_text())
    when = datetime(2026, 12, 6, tzinfo=UTC)
    at_start = stamp("make faults", when, repo)
    # another suite publishes its figures, and docs change, while this one runs
    _commit(repo, "bench/README.md", readme.read_text() + "P1 prose\n")
    _commit(repo, "docs/capacity.md", "notes\n")
    after = stamp_after_run("make faults", when, at_start, repo)
    assert update_block("faults:results", f"{after}\n\nR1 PASS", readme)
    block = blocks(readme)[1]
    assert (block.commit, block.state) == (measured, "current")
    assert f"on commit `{measured[:7]}`" in block.text and "**Stale:**" not in block.text
    assert problem(block, repo) is None

    _commit(repo, "services/ingest/runner.py", "changed mid-run\n")
    after = stamp_after_run("make faults", when, at_start, repo)
    assert "state=stale" in after and "**Stale:** the suite code changed while" in after
    assert f"commit={measured}" in after


def test_outside_a_git_checkout_figures_are_written_labelled_stale(tmp_path: Path) -> None:
    label = stamp("make bench", datetime(2026, 12, 6, tzinfo=UTC), tmp_path)
    assert "commit=unknown" in label and "**Stale:**" in label
