"""Running it in production: health checks, metrics, retention, and the lock that keeps a
periodic task single when several beats run (docs/architecture.md, "Operations")."""
