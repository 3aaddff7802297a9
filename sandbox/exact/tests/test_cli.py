"""The CLI: config building, subcommands against a running sandbox."""

from __future__ import annotations

import json

import httpx
from typer.testing import CliRunner

from exact_sandbox.cli import app
from exact_sandbox.config import SandboxConfig, parse_app
from exact_sandbox.testing import Live

runner = CliRunner()


def test_help_lists_flags_and_subcommands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for word in ("--port", "--minutely-limit", "--fault-5xx-rate", "--division-size", "change",
                 "withdraw", "clock", "faults"):
        assert word in result.output


def test_config_from_dict_and_app_spec() -> None:
    config = SandboxConfig.from_dict({
        "seed": 3, "limits": {"minutely": 7}, "faults": {"latency_ms": 5, "divisions": [1]},
        "division_sizes": {"300001": 1000},
        "apps": [{"client_id": "c", "client_secret": "s", "redirect_uris": ["http://x/cb"]}]})
    assert config.limits.minutely == 7 and config.faults.divisions == (1,)
    assert config.division_sizes == {300001: 1000}
    assert config.apps[0].redirect_uris == ("http://x/cb",)
    spec = parse_app("id,secret,http://a/cb,http://b/cb")
    assert spec.redirect_uris == ("http://a/cb", "http://b/cb")


def test_subcommands_drive_a_running_sandbox(live: Live) -> None:
    result = runner.invoke(app, ["change", "200002", "--insert", "1", "--url", live.url])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["inserted"]) >= 2
    result = runner.invoke(app, ["faults", "latency_ms=0", "--url", live.url])
    assert result.exit_code == 0 and json.loads(result.output)["latency_ms"] == 0
    result = runner.invoke(app, ["clock", "--url", live.url])
    assert json.loads(result.output)["speed"] == 0
    result = runner.invoke(app, ["withdraw", "--username", "nobody@demo.nl", "--url", live.url])
    assert json.loads(result.output) == {"withdrawn": []}
    assert httpx.get(f"{live.url}/_sandbox/health").json()["ok"] is True
