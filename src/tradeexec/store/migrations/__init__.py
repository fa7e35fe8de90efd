"""Alembic migrations for the store; run them with `tradeexec.store.db.upgrade(url)`."""
