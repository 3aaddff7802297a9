"""How a recorded run's status answers what happens to it from outside: the same run asked for
again, and a new grant for its data source (the adapter applies them in one statement each)."""

from __future__ import annotations

from ingest.domain.model import ACTIVE, RunStatus


def requested_again(status: RunStatus) -> RunStatus | None:
    """A run asked for again: a failed one resumes from its checkpoints (the entities that
    failed are tried again from where they stopped); any other request is a duplicate (None)."""
    return RunStatus.PENDING if status is RunStatus.FAILED else None


def granted_again(status: RunStatus) -> RunStatus | None:
    """The data source has a new grant: an active run uses it from now on, a paused run (its
    grant was gone) resumes; a finished run is not touched (None)."""
    if status not in ACTIVE:
        return None
    return RunStatus.PENDING if status is RunStatus.PAUSED else status


RESUMED_ON_REQUEST: tuple[RunStatus, ...] = tuple(s for s in RunStatus if requested_again(s))
TAKES_NEW_GRANT: tuple[RunStatus, ...] = tuple(s for s in RunStatus if granted_again(s))
RESUMED_ON_GRANT: tuple[RunStatus, ...] = tuple(
    s for s in TAKES_NEW_GRANT if granted_again(s) is not s)
