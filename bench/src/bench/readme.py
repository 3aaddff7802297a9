"""Keeping the latest figures in bench/README.md: each suite rewrites its own marked block."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def update_block(name: str, text: str, readme: Path = README) -> bool:
    """Replace what is between ``<!-- name -->`` and ``<!-- /name -->``; False if absent."""
    if not readme.exists():
        return False
    content = readme.read_text()
    pattern = re.compile(rf"(<!-- {re.escape(name)} -->)\n.*?(<!-- /{re.escape(name)} -->)", re.S)
    if not pattern.search(content):
        return False
    readme.write_text(pattern.sub(lambda m: f"{m.group(1)}\n{text.strip()}\n{m.group(2)}", content))
    return True
