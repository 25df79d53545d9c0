"""Telling people a token waits for them: approval emails with signed one-click links."""
