"""PostgreSQL: engines and migrations, the unit of work, the transactional outbox and
inbox and their tables.
"""
