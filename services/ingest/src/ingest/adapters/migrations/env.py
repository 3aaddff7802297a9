from connector_runtime.persistence.db import run_env
from ingest.adapters.tables import metadata

run_env(metadata)
