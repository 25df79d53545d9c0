"""Waitpoint tokens: create, complete, time out, read; and the links that complete them."""
