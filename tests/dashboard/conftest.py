"""Dashboard fixtures: tokens to review (the reviewer and viewer are in tests/conftest.py)."""

import pytest

from waitpoints.tokens.services.create import token_create


@pytest.fixture
def make_token(environment):
    def make(**fields):
        fields.setdefault("timeout", "1h")
        env = fields.pop("environment", environment)
        return token_create(environment=env, **fields).waitpoint

    return make


@pytest.fixture(autouse=True)
def decide_at_once(settings):
    """Dashboard decisions are recorded at once here; test_undo.py sets the undo window."""
    settings.WAITPOINTS_DASHBOARD_UNDO_SECONDS = 0
