"""Redis adapters (optional): shared per-user rate limits and cache invalidation."""
