"""The one operator CLI: every tool is a sub-command of ``connector``, installed as that script."""

import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from connector_cli.main import app


def test_connector_groups_the_portal_commands_the_dead_letters_and_the_sink() -> None:
    top = CliRunner().invoke(app, ["--help"])
    assert top.exit_code == 0, top.output
    for command in ("create", "recreate", "reimport", "follow", "list", "show", "status",
                    "trial-balance", "webhooks", "replay", "confirm", "disown", "dlq", "sink"):
        assert command in top.output
    sink = CliRunner().invoke(app, ["sink", "--help"])
    assert sink.exit_code == 0, sink.output
    for command in ("run", "report", "trial-balance"):
        assert command in sink.output


def test_the_connector_script_is_installed_and_answers() -> None:
    script = Path(sys.executable).parent / "connector"
    found = str(script) if script.exists() else shutil.which("connector")
    assert found is not None
    done = subprocess.run([found, "sink", "--help"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and "trial-balance" in done.stdout
