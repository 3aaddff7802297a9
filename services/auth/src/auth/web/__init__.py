"""HTTP entry points: browser pages and the internal API."""
