"""Sessions and grants in PostgreSQL (SQLAlchemy Core), tokens encrypted with the cipher."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from auth.adapters.crypto import TokenCipher
from auth.adapters.tables import authorizations as A
from auth.adapters.tables import grants as G
from auth.domain.exact import DivisionChoice, ExactUser, ExpectedCompany
from auth.domain.grants import Grant, GrantStatus
from auth.domain.model import OPEN_STATUSES, AuthorizationSession, Status
from auth.domain.tokens import TokenSet


def _tokens_to_json(tokens: TokenSet) -> str:
    return json.dumps({
        "access_token": tokens.access_token, "refresh_token": tokens.refresh_token,
        "access_issued_at": tokens.access_issued_at.isoformat(),
        "access_expires_at": tokens.access_expires_at.isoformat(),
        "refresh_issued_at": tokens.refresh_issued_at.isoformat(),
    })


def _tokens_from_json(text: str) -> TokenSet:
    d = json.loads(text)
    return TokenSet(d["access_token"], d["refresh_token"],
                    datetime.fromisoformat(d["access_issued_at"]),
                    datetime.fromisoformat(d["access_expires_at"]),
                    datetime.fromisoformat(d["refresh_issued_at"]))


class SqlSessionRepository:
    def __init__(self, conn: AsyncConnection, cipher: TokenCipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def _values(self, s: AuthorizationSession) -> dict[str, Any]:
        user = s.exact_user
        return {
            "status": s.status.value, "browser_sha256": s.browser_sha256,
            "state_sha256": s.state_sha256, "region": s.region, "link_used_at": s.link_used_at,
            "exact_user": None if user is None else {
                "user_id": str(user.user_id), "user_name": user.user_name,
                "full_name": user.full_name, "current_division": user.current_division},
            "choices": [{"code": c.code, "name": c.name, "vat_number": c.vat_number}
                        for c in s.choices],
            "pending_tokens_enc": None if s.pending_tokens is None
            else self._cipher.encrypt(_tokens_to_json(s.pending_tokens)),
            "grant_id": s.grant_id,
            "division": s.division.code if s.division else None,
            "division_name": s.division.name if s.division else None,
            "failure_code": s.failure_code, "failure_reason": s.failure_reason,
            "finished_at": s.finished_at, "updated_at": sa.func.now(),
        }

    async def add(self, s: AuthorizationSession) -> None:
        await self._conn.execute(A.insert().values(
            authorization_id=s.authorization_id, datasource_id=s.datasource_id,
            correlation_id=s.correlation_id, purpose=s.purpose, mode=s.mode,
            company_domain_id=s.company_domain_id, company_domain_name=s.company_domain_name,
            requested_by=s.requested_by, bound_division=s.bound_division,
            expected_division=s.expected.division if s.expected else None,
            expected_vat_number=s.expected.vat_number if s.expected else None,
            link_nonce=s.link_nonce, link_token_sha256=s.link_token_sha256,
            link_expires_at=s.link_expires_at, created_at=s.created_at, **self._values(s),
        ))

    async def save(self, s: AuthorizationSession) -> None:
        await self._conn.execute(
            A.update().where(A.c.authorization_id == s.authorization_id).values(**self._values(s))
        )

    async def get(self, authorization_id: uuid.UUID, *, for_update: bool = False
                  ) -> AuthorizationSession | None:
        query = sa.select(A).where(A.c.authorization_id == authorization_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().first()
        return None if row is None else self._load(row)

    async def open_for_datasource(self, datasource_id: uuid.UUID) -> list[AuthorizationSession]:
        rows = (await self._conn.execute(
            sa.select(A).where(A.c.datasource_id == datasource_id,
                               A.c.status.in_([s.value for s in OPEN_STATUSES]))
            .order_by(A.c.created_at).with_for_update()
        )).mappings().all()
        return [self._load(r) for r in rows]

    async def expired(self, now: datetime, limit: int) -> list[AuthorizationSession]:
        rows = (await self._conn.execute(
            sa.select(A).where(A.c.status.in_([s.value for s in OPEN_STATUSES]),
                               A.c.link_expires_at <= now)
            .order_by(A.c.link_expires_at).limit(limit).with_for_update(skip_locked=True)
        )).mappings().all()
        return [self._load(r) for r in rows]

    def _load(self, r: Any) -> AuthorizationSession:
        user = r["exact_user"]
        return AuthorizationSession(
            authorization_id=r["authorization_id"], datasource_id=r["datasource_id"],
            correlation_id=r["correlation_id"], purpose=r["purpose"], mode=r["mode"],
            company_domain_id=r["company_domain_id"],
            company_domain_name=r["company_domain_name"], requested_by=r["requested_by"],
            bound_division=r["bound_division"], link_nonce=r["link_nonce"],
            link_token_sha256=r["link_token_sha256"], link_expires_at=r["link_expires_at"],
            created_at=r["created_at"], status=Status(r["status"]),
            browser_sha256=r["browser_sha256"], state_sha256=r["state_sha256"],
            region=r["region"], link_used_at=r["link_used_at"],
            exact_user=None if user is None else ExactUser(
                uuid.UUID(user["user_id"]), user["user_name"], user["full_name"],
                user["current_division"]),
            choices=tuple(DivisionChoice(c["code"], c["name"], c.get("vat_number"))
                          for c in r["choices"]),
            pending_tokens=None if r["pending_tokens_enc"] is None
            else _tokens_from_json(self._cipher.decrypt(r["pending_tokens_enc"])),
            grant_id=r["grant_id"],
            division=None if r["division"] is None
            else DivisionChoice(r["division"], r["division_name"] or ""),
            failure_code=r["failure_code"], failure_reason=r["failure_reason"],
            finished_at=r["finished_at"],
            expected=None if r["expected_division"] is None and r["expected_vat_number"] is None
            else ExpectedCompany(r["expected_division"], r["expected_vat_number"]),
        )


class SqlGrantRepository:
    def __init__(self, conn: AsyncConnection, cipher: TokenCipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def _values(self, g: Grant) -> dict[str, Any]:
        t = g.tokens
        return {
            "status": g.status.value, "status_reason": g.status_reason,
            "refresh_requested": g.refresh_requested,
            "refresh_not_before": g.refresh_not_before,
            "access_token_enc": None if t is None else self._cipher.encrypt(t.access_token),
            "refresh_token_enc": None if t is None else self._cipher.encrypt(t.refresh_token),
            "access_token_sha256": None if t is None else t.access_token_sha256,
            "access_issued_at": None if t is None else t.access_issued_at,
            "access_expires_at": None if t is None else t.access_expires_at,
            "refresh_issued_at": None if t is None else t.refresh_issued_at,
            "updated_at": sa.func.now(),
        }

    async def add(self, g: Grant) -> None:
        await self._conn.execute(G.insert().values(
            grant_id=g.grant_id, authorization_id=g.authorization_id,
            datasource_id=g.datasource_id, correlation_id=g.correlation_id,
            division=g.division, division_name=g.division_name, exact_user_id=g.exact_user_id,
            exact_user_name=g.exact_user_name, region=g.region, created_at=g.created_at,
            **self._values(g),
        ))

    async def save(self, g: Grant) -> None:
        values = self._values(g)
        old = await self._conn.scalar(
            sa.select(G.c.access_token_sha256).where(G.c.grant_id == g.grant_id))
        if g.tokens is not None and old is not None and old != g.tokens.access_token_sha256:
            values["refresh_count"] = G.c.refresh_count + 1
        await self._conn.execute(G.update().where(G.c.grant_id == g.grant_id).values(**values))

    async def idle(self, refreshed_before: datetime, limit: int) -> list[uuid.UUID]:
        query = (sa.select(G.c.grant_id)
                 .where(G.c.status.in_(("pending", "active")),
                        G.c.refresh_token_enc.is_not(None),
                        G.c.refresh_issued_at < refreshed_before)
                 .order_by(G.c.refresh_issued_at).limit(limit))
        return list((await self._conn.execute(query)).scalars().all())

    async def get(self, grant_id: uuid.UUID, *, for_update: bool = False) -> Grant | None:
        query = sa.select(G).where(G.c.grant_id == grant_id)
        if for_update:
            query = query.with_for_update()
        r = (await self._conn.execute(query)).mappings().first()
        if r is None:
            return None
        tokens = None
        if r["access_token_enc"] is not None and r["refresh_token_enc"] is not None:
            tokens = TokenSet(self._cipher.decrypt(r["access_token_enc"]),
                              self._cipher.decrypt(r["refresh_token_enc"]),
                              r["access_issued_at"], r["access_expires_at"],
                              r["refresh_issued_at"])
        return Grant(
            grant_id=r["grant_id"], authorization_id=r["authorization_id"],
            datasource_id=r["datasource_id"], correlation_id=r["correlation_id"],
            division=r["division"], division_name=r["division_name"],
            exact_user_id=r["exact_user_id"], exact_user_name=r["exact_user_name"],
            region=r["region"], status=GrantStatus(r["status"]), tokens=tokens,
            created_at=r["created_at"], status_reason=r["status_reason"],
            refresh_requested=r["refresh_requested"],
            refresh_not_before=r["refresh_not_before"],
        )
