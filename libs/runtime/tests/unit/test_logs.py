"""No secret reaches a log line: keys, URLs, headers, free text and exceptions are scrubbed."""

import io
import json
import logging
import sys

import pytest
import structlog
from structlog.testing import capture_logs

from connector_runtime.observability.logs import REDACTED, configure_logging, redact_secrets, redact_text

SECRETS = ["AT-0123456789abcdef", "RT-fedcba9876543210", "client-s3cr3t", "SHARE-tok3n-xyz"]


def scrub(**event: object) -> dict[str, object]:
    return dict(redact_secrets(None, "info", dict(event)))


def test_token_like_keys_are_redacted_at_any_depth() -> None:
    out = scrub(event="token_refreshed", access_token=SECRETS[0],
                grant={"refresh_token": SECRETS[1], "division": 123},
                headers={"Authorization": "Bearer " + SECRETS[0]},
                client_secret=SECRETS[2], share_link_token=SECRETS[3])
    text = json.dumps(out)
    for secret in SECRETS:
        assert secret not in text
    assert out["grant"] == {"refresh_token": REDACTED, "division": 123}


@pytest.mark.parametrize(
    "text",
    [
        f"POST /api/oauth2/token grant_type=refresh_token&refresh_token={SECRETS[1]}&client_secret={SECRETS[2]}",
        f"GET /callback?code={SECRETS[0]}&state={SECRETS[3]}",
        f"Authorization: Bearer {SECRETS[0]}",
        f'{{"access_token": "{SECRETS[0]}", "refresh_token": "{SECRETS[1]}"}}',
        f"https://connector.example/share/{SECRETS[3]}",
    ],
)
def test_secrets_inside_free_text_and_urls_are_redacted(text: str) -> None:
    cleaned = redact_text(text)
    for secret in SECRETS:
        assert secret not in cleaned
    assert REDACTED in cleaned


def test_a_cut_text_is_masked_first_so_no_part_of_a_secret_is_left() -> None:
    text = f"invalid_grant: refresh_token={SECRETS[1]} was used before"
    cut = redact_text(text, 30)
    assert len(cut) == 30 and SECRETS[1][:8] not in cut
    assert cut == redact_text(text)[:30]
    assert redact_text("short", 30) == "short"


def test_ordinary_fields_are_kept() -> None:
    out = scrub(event="run_started", datasource_id="d-1", division=123, rows=1000,
                url="https://start.exactonline.nl/api/v1/123/sync/Financial/TransactionLines")
    assert out["division"] == 123 and out["rows"] == 1000
    assert out["url"] == "https://start.exactonline.nl/api/v1/123/sync/Financial/TransactionLines"


def test_configured_pipeline_redacts_events_exceptions_and_library_logs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    structlog.reset_defaults()
    configure_logging("test", "INFO", "json")
    log = structlog.get_logger("t")
    log.info("exchanging_code", url=f"https://x/cb?code={SECRETS[0]}", refresh_token=SECRETS[1])
    try:
        raise ValueError(f"token endpoint said no to refresh_token={SECRETS[1]}")
    except ValueError:
        log.exception("refresh_failed")
    logging.getLogger("aiokafka.something").warning("Bearer %s", SECRETS[0])
    logging.getLogger("uvicorn.error").warning("GET /share/%s", SECRETS[3])
    output = stream.getvalue()
    for secret in SECRETS:
        assert secret not in output
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines[0]["event"] == "exchanging_code" and lines[0]["service"] == "test"
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_capture_logs_sees_structured_events() -> None:
    with capture_logs() as logs:
        structlog.get_logger().info("run_completed", rows=10)
    assert logs[0]["event"] == "run_completed"
