"""Keeping idle grants alive: refresh any grant whose refresh token would soon expire.

Exact expires a refresh token unused for 30 days. A data source whose syncs pause (a
holiday, an outage, a paused schedule) would lose its grant without anyone noticing, so
auth refreshes every usable grant whose refresh token is older than the policy allows
(by default: would expire within 7 days). Each grant is refreshed under its row lock, as
ingest's refreshes are, so replicas running this at once refresh it once. A refresh
Exact refuses revokes the grant (``GrantRevoked``, the data source needs
re-authorization); one that fails otherwise warns with ``GrantExpiring`` and the metric,
and is tried again the next round.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import structlog

from auth import metrics
from auth.domain.errors import ExactError, ExactRefused, ExactTooEarly
from auth.ports import Dependencies
from auth.usecases.messages import publish_events

log = structlog.get_logger("auth.keepalive")

BATCH = 100


@dataclass
class KeepAliveRound:
    """What one round did, per outcome (``refreshed``, ``failed``, ``refused``)."""

    outcomes: dict[str, list[uuid.UUID]] = field(default_factory=dict)

    def add(self, outcome: str, grant_id: uuid.UUID) -> None:
        self.outcomes.setdefault(outcome, []).append(grant_id)
        metrics.keepalive(outcome)


async def keep_alive(deps: Dependencies) -> KeepAliveRound:
    """One round over every grant due for a keep-alive refresh."""
    done = KeepAliveRound()
    seen: set[uuid.UUID] = set()
    while True:
        cutoff = deps.config.keepalive.refreshed_before(deps.clock())
        async with deps.uow() as uow:
            due = [g for g in await uow.grants.idle(cutoff, BATCH) if g not in seen]
        if not due:
            return done
        for grant_id in due:
            seen.add(grant_id)
            outcome = await _refresh(deps, grant_id)
            if outcome is not None:
                done.add(outcome, grant_id)


async def _refresh(deps: Dependencies, grant_id: uuid.UUID) -> str | None:
    keepalive, policy = deps.config.keepalive, deps.config.refresh
    async with deps.uow() as uow:
        grant = await uow.grants.get(grant_id, for_update=True)
        now = deps.clock()
        if grant is None or not grant.usable or grant.tokens is None:
            return None
        tokens = grant.tokens
        if tokens.refresh_issued_at >= keepalive.refreshed_before(now):
            return None  # refreshed meanwhile (by ingest or another replica)
        if now < policy.earliest(tokens) or (grant.refresh_not_before or now) > now:
            return None  # Exact allows no new token yet; the next round tries again
        expires_at = keepalive.refresh_expires_at(tokens)
        try:
            fresh = await deps.oauth.refresh(grant.region, tokens.refresh_token)
        except ExactRefused as exc:
            grant.revoke(f"Exact Online refused to renew the idle access: {exc}")
            outcome, reason = "refused", str(exc)
        except ExactTooEarly:
            grant.too_early(now, policy)
            grant.keep_alive_failed("Exact Online allowed no new token yet", expires_at)
            outcome, reason = "failed", "too early"
        except ExactError as exc:
            grant.keep_alive_failed(f"Exact Online could not renew the access: {exc}"[:300],
                                    expires_at)
            outcome, reason = "failed", str(exc)
        else:
            grant.rotate(fresh)
            outcome, reason = "refreshed", ""
        await uow.grants.save(grant)
        await publish_events(uow, grant, deps.config.internal_base_url)
        await uow.commit()
    log_line = log.info if outcome == "refreshed" else log.warning
    log_line("grant_keepalive", grant_id=str(grant_id), division=grant.division, outcome=outcome,
             refresh_expired_at=expires_at.isoformat(), reason=reason[:200] or None)
    return outcome
