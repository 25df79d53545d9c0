"""The callback URL completes its token: the detail page shows it (and its Copy button) only to
users who may decide; a read-only user sees neither, in the page or in its htmx refresh."""

import pytest

from tests.helpers import path_of
from waitpoints.tokens.callbacks import callback_url

pytestmark = pytest.mark.django_db


def test_reviewer_sees_the_callback_url_and_its_copy_button(reviewer_client, make_token):
    token = make_token(title="Refund #1")
    page = reviewer_client.get(f"/dashboard/tokens/{token.id}/").content.decode()
    assert callback_url(token) in page
    assert 'data-copy-target="#callback-url"' in page


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx-refresh"])
def test_read_only_user_never_gets_the_callback_url(viewer_client, make_token, htmx):
    token = make_token(title="Refund #1")
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = viewer_client.get(f"/dashboard/tokens/{token.id}/", **headers)
    page = response.content.decode()
    assert response.status_code == 200 and "Refund #1" in page
    url = callback_url(token)
    # Neither the URL nor its secret hash (the last path segment) appears anywhere.
    assert url not in page
    assert path_of(url).rstrip("/").rsplit("/", 1)[1] not in page
    assert "callback-url" not in page and "Callback URL" not in page


def test_read_only_user_gets_no_callback_url_from_the_inbox(viewer_client, make_token):
    token = make_token(title="Refund #1")
    page = viewer_client.get("/dashboard/").content.decode()
    assert token.id in page and callback_url(token) not in page
