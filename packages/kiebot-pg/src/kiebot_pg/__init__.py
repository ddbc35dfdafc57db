"""PostgreSQL adapters for the core storage ports (issue: Storage)."""
