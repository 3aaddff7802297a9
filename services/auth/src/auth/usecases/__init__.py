"""Use cases of the auth service: one async function per request or message, each owning
its unit of work (load, call the domain, commit once)."""
