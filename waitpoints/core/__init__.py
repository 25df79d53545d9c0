"""Plain building blocks with no knowledge of the domain's tables: ids, durations, validation."""
