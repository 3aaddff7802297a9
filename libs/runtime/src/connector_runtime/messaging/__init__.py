"""Kafka: the broker and subscribers (dead letters, retries), producers, consumer lag,
Kafka authentication and the signed grant claims messages carry.
"""
