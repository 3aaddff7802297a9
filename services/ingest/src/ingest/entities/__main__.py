"""``python -m ingest.entities``: print docs/exact-entities.md."""

from ingest.entities.docs import markdown

print(markdown(), end="")
