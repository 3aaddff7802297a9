from auth.adapters.tables import metadata
from connector_runtime.persistence.db import run_env

run_env(metadata)
