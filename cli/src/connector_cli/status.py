"""The whole system at a glance, from the services' public sides only.

* data sources, their state, last run and last sync: datasource's read API;
* consumer lag per group: the ``connector_consumer_lag_messages`` gauge each service
  measures and serves on ``/metrics`` (the largest figure per group and topic);
* dead-letter depth: the ``*.dlq`` topics on the broker, less what ``dlq redrive`` sent back;
* Exact's calls left today per company: ingest's ``ingest_exact_rate_budget_remaining``
  and ``..._limit`` gauges (``window="daily"``), from Exact's last X-RateLimit headers;
* grants expiring soon: auth's ``GrantExpiring`` events on ``exact.auth.events``. Auth emits
  one every keep-alive round (hourly by default) in which it could not refresh an idle
  grant; a grant counts while such a warning is recent (:data:`EXPIRING_SEEN_WITHIN`), its
  refresh token has not expired yet, and no ``GrantRevoked`` followed.

No service's tables are read. A part that cannot be reached is reported as such (with the
reason) and the rest is still shown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from connector_cli import api, dlq, run_plan
from connector_cli.settings import CliSettings
from contracts import AUTH_EVENTS, ContractError, GrantExpiring, GrantRevoked, parse_message

EXPIRING_SEEN_WITHIN = dt.timedelta(hours=2)
"""A ``GrantExpiring`` older than two keep-alive rounds is taken as resolved."""


async def _metrics(url: str, token: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{url}/metrics", headers=headers)
    response.raise_for_status()
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[sample.name].append((dict(sample.labels), float(sample.value)))
    return out


async def _part(name: str, errors: dict[str, str], coro: Any) -> Any:
    try:
        return await coro
    except Exception as exc:  # a service, the broker or an answer broken: say so, show the rest
        errors[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
    return None


def _lag(scrapes: list[dict[str, list[tuple[dict[str, str], float]]]]) -> list[dict[str, Any]]:
    best: dict[tuple[str, str], float] = {}
    for scrape in scrapes:
        for labels, value in scrape.get("connector_consumer_lag_messages", []):
            key = (labels.get("group", ""), labels.get("topic", ""))
            best[key] = max(best.get(key, 0.0), value)
    return [{"group": g, "topic": t, "lag": int(v)} for (g, t), v in sorted(best.items())]


def _budgets(scrape: dict[str, list[tuple[dict[str, str], float]]] | None,
             names: dict[int, str]) -> list[dict[str, Any]]:
    if not scrape:
        return []
    limits = {lbl["division"]: v for lbl, v in scrape.get("ingest_exact_rate_budget_limit", [])
              if lbl.get("window") == "daily"}
    rows = []
    for lbl, left in scrape.get("ingest_exact_rate_budget_remaining", []):
        if lbl.get("window") != "daily":
            continue
        division = lbl["division"]
        rows.append({"division": int(division) if division.isdigit() else division,
                     "company": names.get(int(division), "") if division.isdigit() else "",
                     "calls_left_today": int(left),
                     "daily_limit": int(limits[division]) if division in limits else None})
    return sorted(rows, key=lambda r: str(r["division"]))


async def _dlq_depth(bootstrap: str) -> list[dict[str, Any]]:
    letters = await dlq.read_dead_letters(bootstrap)
    done = await dlq.redriven(bootstrap)
    depth: dict[str, dict[str, Any]] = {}
    for d in letters:
        row = depth.setdefault(d.topic, {"topic": d.topic, "dead_letters": 0, "redriven": 0,
                                         "oldest_waiting": None})
        row["dead_letters"] += 1
        if d.ref in done:
            row["redriven"] += 1
        elif row["oldest_waiting"] is None or d.failed_at.isoformat() < row["oldest_waiting"]:
            row["oldest_waiting"] = d.failed_at.isoformat()
    return [depth[t] for t in sorted(depth)]


async def _expiring_grants(bootstrap: str, now: dt.datetime) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    latest: dict[str, GrantExpiring] = {}
    revoked: set[str] = set()
    try:
        await consumer.topics()
        tps = [TopicPartition(AUTH_EVENTS, p)
               for p in sorted(consumer.partitions_for_topic(AUTH_EVENTS) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        start = {tp: off.offset if off else None for tp, off in (await consumer.offsets_for_times(
            {tp: int((now - EXPIRING_SEEN_WITHIN).timestamp() * 1000) for tp in tps})).items()}
        end = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if start[tp] is not None and start[tp] < end[tp]}
        for tp in pending:
            consumer.seek(tp, start[tp])
        while pending:
            for tp, records in (await consumer.getmany(*pending, timeout_ms=1000)).items():
                for r in records:
                    try:
                        message = parse_message(AUTH_EVENTS, r.value or b"")
                    except ContractError:
                        continue
                    grant = str(getattr(message.payload, "grant_id", ""))
                    if isinstance(message, GrantExpiring) and (
                            grant not in latest or latest[grant].occurred_at <= message.occurred_at):
                        latest[grant] = message  # partitions interleave: the newest warning
                    elif isinstance(message, GrantRevoked):
                        revoked.add(grant)
                if records and records[-1].offset + 1 >= end[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return [{"grant_id": g, "datasource_id": str(m.datasource_id), "division": m.payload.division,
             "refresh_expires_at": m.payload.refresh_expires_at.isoformat(),
             "warned_at": m.occurred_at.isoformat()}
            for g, m in sorted(latest.items(), key=lambda i: i[1].payload.refresh_expires_at)
            if g not in revoked and m.payload.refresh_expires_at > now]


def _source_row(d: dict[str, Any]) -> dict[str, Any]:
    run, sync = d.get("last_run") or {}, d.get("last_sync") or {}
    return {"id": d.get("id"), "company_domain": d.get("company_domain_name"), "state": d.get("state"),
            "division": d.get("division"), "company": d.get("division_name"),
            "last_run": ({"status": run.get("status"), "kind": run.get("kind"),
                          "at": run.get("finished_at") or run.get("last_event_at")
                          or run.get("requested_at"), "rows": run.get("rows"),
                          # ingest's plan (calls, ETA) matters until the run ends
                          "plan": None if run.get("finished_at") else run.get("plan")}
                         if run else None),
            "last_sync": ({"status": sync.get("status"), "at": sync.get("at")} if sync else None),
            "problem": d.get("last_failure_reason")}


async def gather(cfg: CliSettings) -> dict[str, Any]:
    """Every figure of ``connector status``; ``errors`` names the parts not reachable."""
    now = dt.datetime.now(dt.UTC)
    errors: dict[str, str] = {}
    token = cfg.internal_api_token.get_secret_value()
    sources, ds_m, auth_m, ingest_m, depth, expiring = await asyncio.gather(
        _part("datasource API", errors, api.datasources(cfg)),
        _part("datasource metrics", errors, _metrics(cfg.datasource_metrics_url, token)),
        _part("auth metrics", errors, _metrics(cfg.auth_url, token)),
        _part("ingest metrics", errors, _metrics(cfg.ingest_url, token)),
        _part("dead letters", errors, _dlq_depth(cfg.kafka_bootstrap_servers)),
        _part("grant warnings", errors, _expiring_grants(cfg.kafka_bootstrap_servers, now)),
    )
    rows = [_source_row(d) for d in (sources or [])]
    names = {int(r["division"]): str(r["company"] or "") for r in rows if r["division"] is not None}
    return {
        "at": now.isoformat(),
        "datasources": rows,
        "consumer_lag": _lag([m for m in (ds_m, auth_m, ingest_m) if m]),
        "dead_letters": depth or [],
        "exact_budget_today": _budgets(ingest_m, names),
        "grants_expiring": expiring or [],
        "errors": errors,
    }


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else ""


def render(data: dict[str, Any], console: Console) -> None:
    """``connector status`` as tables (``--json`` prints ``data`` as it is)."""
    now = dt.datetime.fromisoformat(data["at"])
    table = Table(title=f"Data sources ({len(data['datasources'])})")
    for col in ("data source", "company", "state", "last run", "plan", "last sync", "problem"):
        table.add_column(col)
    for d in data["datasources"]:
        run, sync = d["last_run"] or {}, d["last_sync"] or {}
        plan = run.get("plan")
        table.add_row(str(d["id"])[:8], f"{d['company'] or ''} ({d['division'] or '-'})", d["state"],
                      f"{run.get('kind', '')} {run.get('status', '')} {_when(run.get('at'))}".strip(),
                      run_plan.brief(plan, now) if plan else "",
                      f"{sync.get('status', '')} {_when(sync.get('at'))}".strip(),
                      (d["problem"] or "")[:48])
    console.print(table)
    table = Table(title="Consumer lag (messages)")
    for col in ("group", "topic", "lag"):
        table.add_column(col)
    for row in data["consumer_lag"]:
        table.add_row(row["group"], row["topic"], str(row["lag"]))
    console.print(table)
    table = Table(title="Dead letters")
    for col in ("topic", "dead letters", "re-driven", "oldest waiting"):
        table.add_column(col)
    for row in data["dead_letters"]:
        table.add_row(row["topic"], str(row["dead_letters"]), str(row["redriven"]),
                      _when(row["oldest_waiting"]))
    console.print(table if data["dead_letters"] else "Dead letters: none")
    table = Table(title="Exact API calls left today")
    for col in ("division", "company", "left", "daily limit"):
        table.add_column(col)
    for row in data["exact_budget_today"]:
        table.add_row(str(row["division"]), row["company"], f"{row['calls_left_today']:,}",
                      "" if row["daily_limit"] is None else f"{row['daily_limit']:,}")
    console.print(table if data["exact_budget_today"] else "Exact API calls left today: no call yet")
    if data["grants_expiring"]:
        table = Table(title="Grants expiring (keep-alive failing)")
        for col in ("grant", "data source", "division", "refresh token expires", "last warning"):
            table.add_column(col)
        for row in data["grants_expiring"]:
            table.add_row(row["grant_id"][:8], row["datasource_id"][:8], str(row["division"]),
                          _when(row["refresh_expires_at"]), _when(row["warned_at"]))
        console.print(table)
    else:
        console.print("Grants expiring soon: none")
    for part, error in data["errors"].items():
        console.print(f"[red]{part} not reachable: {error}[/red]")
