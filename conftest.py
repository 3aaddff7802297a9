pytest_plugins = ["connector_runtime.devstack.testing"]
