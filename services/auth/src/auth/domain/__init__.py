"""The auth service's domain: sessions, grants, tokens and the administrator rule (stdlib only)."""
