"""Durable task runs: registration, triggering, execution with a replay journal."""
