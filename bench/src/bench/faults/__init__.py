"""The fault suite: R1-R8, each a scenario against the whole system that ends in an exact
check, printing one line ``R<n> <name>: <figures> PASS|FAIL``."""
