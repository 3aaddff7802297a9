"""Logging (structured, secrets redacted, per-message context) and the Prometheus metrics
every service shares.
"""
