"""Outbound webhooks (Standard Webhooks): endpoints, events recorded with the completions that
cause them, and their signed, retried delivery. `verify` is for receivers written in Python."""

from waitpoints.webhooks.signing import WebhookVerificationError, verify

__all__ = ["WebhookVerificationError", "verify"]
