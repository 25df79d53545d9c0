"""Helpers for the REST API tests."""

import pytest

TOKENS = "/api/v1/waitpoints/tokens"


def path_of(url: str) -> str:
    """The path of an absolute URL the API returned (the test client wants paths)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def create_token(api):
    """POST a token with `api` (or another client) and return the 200 body."""

    def create(client=None, **body):
        response = (client or api).post(TOKENS, body, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    return create
