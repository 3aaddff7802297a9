from connector_runtime.db import run_env
from ingest.adapters.tables import metadata

run_env(metadata)
