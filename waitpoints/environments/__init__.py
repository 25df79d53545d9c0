"""Environments and their API keys: who may call the API, and where their tokens live."""
