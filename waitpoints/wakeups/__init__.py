"""Waking runs: the runs blocked on waitpoints that just finished are queued, and their Celery
messages sent after commit.

Shared by the token services (a completion or timeout wakes the runs waiting on it) and the run
services (trigger, retry, stalled runs), below both in the layers: it knows the tables and the
Celery task names, nothing of either service (docs/architecture.md, "Layers").
"""
