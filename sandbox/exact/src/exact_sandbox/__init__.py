"""Exact Online sandbox: a local simulator of the Exact Online REST API.

Start it with `exact-sandbox --port 8765`; build it in-process with `create_app(config)`.
"""

from exact_sandbox.app import create_app
from exact_sandbox.clock import Clock
from exact_sandbox.config import AppRegistration, FaultSettings, Limits, SandboxConfig
from exact_sandbox.seed import ROLE_ADMINISTRATOR

__all__ = [
    "ROLE_ADMINISTRATOR",
    "AppRegistration",
    "Clock",
    "FaultSettings",
    "Limits",
    "SandboxConfig",
    "create_app",
]
