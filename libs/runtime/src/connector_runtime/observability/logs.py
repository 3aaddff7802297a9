"""structlog configuration: JSON lines off a terminal, context from contextvars, no secrets.

Every service calls :func:`configure_logging` once at start-up. The redaction
processor removes secrets wherever they appear in an event: under token-like
keys, in URLs (query parameters such as ``code`` or ``refresh_token``, share
links), in ``Authorization`` headers and in free text.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"

_SECRET_KEY = re.compile(
    r"(token|secret|password|passwd|authorization|cookie|api[_-]?key|credential|"
    r"share[_-]?link|signature|^code$|^state$)",
    re.IGNORECASE,
)
_SECRET_IN_TEXT = [
    # key=value pairs in query strings, forms and free text
    re.compile(
        r"(?i)\b((?:access_token|refresh_token|id_token|client_secret|password|code|state|"
        r"token|share_token)=)[^&\s\"',;]+"
    ),
    # JSON-ish "key": "value"
    re.compile(
        r"(?i)(\"(?:access_token|refresh_token|id_token|client_secret|password|token)\"\s*:\s*\")"
        r"[^\"]*"
    ),
    # Authorization headers
    re.compile(r"(?i)\b(bearer\s+|basic\s+)[A-Za-z0-9._~+/=-]+"),
    # share links: /share/<token>
    re.compile(r"(/share/)[A-Za-z0-9._~-]+"),
]


def redact_text(text: str, limit: int | None = None) -> str:
    """``text`` with the secrets in it masked, then cut to ``limit`` characters.

    The one masking helper: for text from outside (an Exact or auth error body, an
    exception) that goes where the log processors do not reach - an event, a dead letter,
    a stored error, a page. Masked before cutting, so a cut never leaves half a secret.
    """
    for pattern in _SECRET_IN_TEXT:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text if limit is None else text[:limit]


def _redact_value(key: str | None, value: Any, depth: int = 0) -> Any:
    if key is not None and _SECRET_KEY.search(key) and value not in (None, "", [], {}):
        return REDACTED
    if depth > 6:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(None, v, depth + 1) for v in value)
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: never let a secret reach a log line."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key if key != "event" else None, event_dict[key])
    return event_dict


def _redact_rendered(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Exceptions are rendered to text by format_exc_info; scrub that text too.
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = redact_text(event_dict["exception"])
    return event_dict


def shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]


def configure_logging(service: str, level: str = "INFO", fmt: str = "auto") -> None:
    """Configure structlog (and the stdlib loggers of libraries) once per process."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    # Console tracebacks without local variables: a frame's locals can hold tokens.
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    processors = [
        *shared_processors(),
        structlog.processors.format_exc_info if as_json else structlog.processors.StackInfoRenderer(),
        _redact_rendered,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Library loggers (aiokafka, uvicorn, alembic) go through the same redaction and format.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _redact_rendered,
                renderer,
            ],
            foreign_pre_chain=[*shared_processors(), structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "aiokafka.consumer.group_coordinator", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
