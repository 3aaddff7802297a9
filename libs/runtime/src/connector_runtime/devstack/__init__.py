"""The development stack: embedded broker and PostgreSQL, containers, the local stack
command and the pytest fixtures. Services never import it; tests, the demo and the bench do.
"""
