"""Every state change of a waitpoint, each in one transaction (docs/architecture.md).

Views, the SDK, the dashboard, admin and Celery tasks call these; none of them writes models.
"""
