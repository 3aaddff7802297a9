"""The ingest service's use cases: what subscribers and the scheduler call.

* :mod:`~ingest.usecases.requests`: record what other services ask (a run, a recreate, a
  change notification, a disowned data source), one transaction per message; never run here.
* :mod:`~ingest.usecases.run`: execute (or resume) one claimed run to its end.
* :mod:`~ingest.usecases.pages`: the run's pipelined page loop.
"""

from ingest.usecases.requests import (
    RECREATE_CONSUMER,
    RUN_REQUESTS_CONSUMER,
    record_change,
    record_run_request,
    release_disowned,
    switch_to_new_grant,
)
from ingest.usecases.run import RunExecutor, RunnerConfig

__all__ = [
    "RECREATE_CONSUMER",
    "RUN_REQUESTS_CONSUMER",
    "RunExecutor",
    "RunnerConfig",
    "record_change",
    "record_run_request",
    "release_disowned",
    "switch_to_new_grant",
]
