"""Example task modules; `make run` enables `examples.moderation`."""
