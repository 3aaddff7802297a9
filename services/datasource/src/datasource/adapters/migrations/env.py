from connector_runtime.db import run_env
from datasource.adapters.tables import metadata

run_env(metadata)
