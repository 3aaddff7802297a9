"""Progress bars of a run, driven by RunProgress events."""

from __future__ import annotations

import uuid

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from connector_cli import run_plan
from connector_cli.kafka_io import EventWatch
from connector_cli.trial_balance import summary_of_event
from contracts import Message, RunCompleted, RunFailed, RunProgress, RunStarted, TrialBalanceChecked


async def follow_run(watch: EventWatch, console: Console, run_id: uuid.UUID | None,
                     timeout: float | None = None) -> Message | None:
    """Show the run's progress until it completes or fails; returns the final event."""
    columns = (SpinnerColumn(), TextColumn("{task.description:<18}"), BarColumn(),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bars:
        overall = bars.add_task("run", total=100, info="waiting for the run to start")
        tasks: dict[str, TaskID] = {}
        async for event in watch.events(timeout):
            payload = getattr(event, "payload", None)
            if run_id is not None and getattr(payload, "run_id", run_id) != run_id:
                continue
            if isinstance(event, RunStarted):
                run_id = event.payload.run_id
                bars.update(overall, info=f"run {run_id} ({event.payload.kind}) started")
                if event.payload.plan is not None:
                    plan = event.payload.plan.model_dump(mode="json")
                    console.print(run_plan.summary(plan, event.occurred_at))
                    console.print(run_plan.table(plan))
            elif isinstance(event, RunProgress):
                run_id = event.payload.run_id
                p = event.payload
                for entity in p.entities:
                    if entity.entity.value not in tasks:
                        tasks[entity.entity.value] = bars.add_task(entity.entity.value, total=1, info="")
                    bars.update(
                        tasks[entity.entity.value], completed=1 if entity.done else 0,
                        info=f"{entity.rows:>9,} rows  {entity.pages:>5} pages"
                        + ("  done" if entity.done else ""),
                    )
                done = sum(1 for e in p.entities if e.done)
                eta = f"ETA {p.eta_seconds:,.0f}s" if p.eta_seconds is not None else "ETA ?"
                budget = (f"budget {p.minutely_budget_remaining}/min, {p.daily_budget_remaining}/day"
                          if p.minutely_budget_remaining is not None else "")
                share = 100 * done / max(len(p.entities), 1)
                bars.update(overall, completed=share,
                            info=f"{p.calls_used} calls  {eta}  {budget}")
            elif isinstance(event, TrialBalanceChecked):
                console.print(summary_of_event(event.payload))
            elif isinstance(event, RunCompleted):
                missing = ", ".join(str(f.entity) for f in event.payload.failed_entities)
                bars.update(overall, completed=100, info=f"[yellow]completed with errors: not "
                            f"imported {missing}[/yellow]" if missing else "completed")
                for task in tasks.values():
                    bars.update(task, completed=1)
                return event
            elif isinstance(event, RunFailed):
                bars.update(overall, info=f"[red]failed: {event.payload.reason}[/red]")
                return event
    return None
