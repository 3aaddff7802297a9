from connector_runtime.db import run_env
from auth.adapters.tables import metadata

run_env(metadata)
