from auth.adapters.tables import metadata
from connector_runtime.db import run_env

run_env(metadata)
