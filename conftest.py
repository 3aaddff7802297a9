pytest_plugins = ["connector_runtime.testing"]
