"""Shared test harness: real PostgreSQL/RabbitMQ/Redis, isolated per test run."""
