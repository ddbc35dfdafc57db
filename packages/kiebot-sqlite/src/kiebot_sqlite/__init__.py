"""SQLite adapters for the CLI local store (issue: Storage)."""
