"""``connector dlq``: list, show and re-drive dead letters (see :mod:`connector_cli.dlq`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import defaultdict

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connector_cli import dlq
from connector_cli.settings import CliSettings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Dead letters: list by topic, reason and age; show one; re-drive after a fix.")
console = Console()


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _age(at: dt.datetime, now: dt.datetime) -> str:
    seconds = max(0, int((now - at).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _selection(topic: str | None, reason: str | None, key: str | None, group: str | None,
               since: dt.datetime | None, until: dt.datetime | None) -> dlq.Selection:
    return dlq.Selection(topic=topic, reason=reason, key=key, group=group, since=_utc(since),
                         until=_utc(until))


TOPIC = typer.Option(None, help="A source or dead-letter topic (default: every *.dlq topic).")
REASON = typer.Option(None, help="Only dead letters whose reason contains this text.")
KEY = typer.Option(None, help="Only this record key (the data source id).")
GROUP = typer.Option(None, help="Only those the named consumer group gave up on.")
SINCE = typer.Option(None, help="Failed at or after this time (ISO 8601; UTC if no zone).")
UNTIL = typer.Option(None, help="Failed before this time (ISO 8601; UTC if no zone).")


@app.command("list")
def list_cmd(topic: str | None = TOPIC, reason: str | None = REASON, key: str | None = KEY,
             group: str | None = GROUP, since: dt.datetime | None = SINCE,
             until: dt.datetime | None = UNTIL,
             records: bool = typer.Option(False, "--records", help="One line per dead letter."),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Dead letters by topic, reason and age (how many, oldest, newest, re-driven)."""
    bootstrap = CliSettings().kafka_bootstrap_servers
    selection = _selection(topic, reason, key, group, since, until)

    async def load() -> tuple[list[dlq.DeadLetter], dict[str, dict[str, object]]]:
        return await dlq.read_dead_letters(bootstrap), await dlq.redriven(bootstrap)

    letters, done = asyncio.run(load())
    letters = [d for d in letters if selection.matches(d)]
    now = dt.datetime.now(dt.UTC)
    if as_json:
        print(json.dumps([{"ref": d.ref, "source_topic": d.source_topic, "key": d.key_text,
                           "message_type": d.message_type, "reason": d.reason,
                           "consumer_group": d.consumer_group, "failed_at": d.failed_at.isoformat(),
                           "redriven": d.ref in done} for d in letters], indent=2))
        return
    if not letters:
        console.print("no dead letters" + (" match" if selection != dlq.Selection() else ""))
        return
    if records:
        table = Table(title="Dead letters")
        for col in ("ref", "key", "type", "age", "group", "reason", "redriven"):
            table.add_column(col)
        for d in letters:
            table.add_row(d.ref, d.key_text, d.message_type, _age(d.failed_at, now), d.consumer_group,
                          d.reason[:80], "yes" if d.ref in done else "")
        console.print(table)
        return
    groups: dict[tuple[str, str, str], list[dlq.DeadLetter]] = defaultdict(list)
    for d in letters:
        groups[(d.topic, d.consumer_group, d.reason[:80])].append(d)
    table = Table(title="Dead letters by topic and reason")
    for col in ("dead-letter topic", "group", "reason", "count", "oldest", "newest", "redriven"):
        table.add_column(col)
    for (topic_name, group_name, why), items in sorted(groups.items()):
        table.add_row(topic_name, group_name, why, str(len(items)),
                      _age(min(d.failed_at for d in items), now),
                      _age(max(d.failed_at for d in items), now),
                      str(sum(d.ref in done for d in items)))
    console.print(table)


@app.command()
def show(ref: str = typer.Argument(..., help="topic:partition:offset, as `dlq list --records` shows"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """One dead letter: its reason, where it came from, its original headers and body."""
    bootstrap = CliSettings().kafka_bootstrap_servers
    topic = ref.rsplit(":", 2)[0]
    try:
        letter = dlq.find(asyncio.run(dlq.read_dead_letters(bootstrap, [topic])), ref)
    except dlq.DeadLetterError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    done = asyncio.run(dlq.redriven(bootstrap)).get(ref)
    body = letter.value.decode(errors="replace")
    if as_json:
        print(json.dumps({"ref": ref, "key": letter.key_text, "reason": letter.reason,
                          "source_topic": letter.source_topic, "consumer_group": letter.consumer_group,
                          "failed_at": letter.failed_at.isoformat(),
                          "headers": dict(letter.headers), "redriven": done, "value": body}, indent=2))
        return
    table = Table(show_header=False, title=f"Dead letter {ref}")
    table.add_row("reason", letter.reason)
    table.add_row("source", f"{letter.source_topic} partition {letter.header('dlq_source_partition')} "
                  f"offset {letter.header('dlq_source_offset')}")
    table.add_row("consumer group", letter.consumer_group)
    table.add_row("failed at", letter.failed_at.isoformat())
    table.add_row("key", letter.key_text)
    table.add_row("re-driven", json.dumps(done) if done else "no")
    for k, v in letter.original_headers:
        table.add_row(f"header {k}", v)
    console.print(table)
    console.print(body[:4000], soft_wrap=True, markup=False, highlight=False)


@app.command("redrive")
def redrive_cmd(topic: str | None = TOPIC, reason: str | None = REASON, key: str | None = KEY,
                group: str | None = GROUP, since: dt.datetime | None = SINCE,
                until: dt.datetime | None = UNTIL,
                dry_run: bool = typer.Option(False, "--dry-run",
                                             help="Say what would be sent; send nothing."),
                by: str = typer.Option("connector", help="Who re-drives (noted in the log).")) -> None:
    """Send the selected dead letters back to their source topic once (after fixing the cause)."""
    selection = _selection(topic, reason, key, group, since, until)
    if selection == dlq.Selection():
        raise typer.BadParameter("select what to re-drive: --topic, --reason, --key, --group, "
                                 "--since or --until")
    bootstrap = CliSettings().kafka_bootstrap_servers
    letters = [d for d in asyncio.run(dlq.read_dead_letters(bootstrap)) if selection.matches(d)]
    if not letters:
        console.print("no dead letters match")
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bars:
        task = bars.add_task("dry run" if dry_run else "re-driving", total=len(letters))
        result = asyncio.run(dlq.redrive(bootstrap, letters, dry_run=dry_run, by=by,
                                         on_each=lambda _d, _sent: bars.advance(task)))
        if dry_run:
            bars.update(task, completed=len(letters))
    if dry_run:
        for d in result.sent:
            console.print(f"would send {d.ref} -> {d.source_topic} (key {d.key_text}): {d.reason[:80]}")
    console.print(f"{'would re-drive' if dry_run else 're-drove'} {len(result.sent)}; "
                  f"{len(result.already)} re-driven before, skipped")
