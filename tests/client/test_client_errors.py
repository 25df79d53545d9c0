"""`ApiError.code`: the server's stable error code, read by the client over real HTTP."""

import pytest

from waitpoints.client import ApiError, Client
from waitpoints.errors import ErrorCode


def test_api_errors_carry_the_code(client, server_url):
    with pytest.raises(ApiError) as unauthorized, Client(server_url, "wp_prod_wrong") as wrong:
        wrong.list_tokens_page()
    assert (unauthorized.value.status_code, unauthorized.value.code) == (401, "invalid_api_key")
    assert unauthorized.value.message == "Invalid API key"

    with pytest.raises(ApiError) as missing:
        client.retrieve_token("waitpoint_nope")
    assert (missing.value.status_code, missing.value.code) == (404, ErrorCode.NOT_FOUND)

    with pytest.raises(ApiError) as invalid:
        client.create_token(timeout="soon")
    assert (invalid.value.code, set(invalid.value.details)) == ("invalid_input", {"timeout"})
    assert invalid.value.request_id


def test_an_answer_that_is_not_the_apis_json_has_no_code(server_url, secret_key):
    # Outside /api/ Django answers with an HTML 404, as a proxy's error page would.
    with pytest.raises(ApiError) as error, Client(f"{server_url}/elsewhere", secret_key) as lost:
        lost.list_tokens_page()
    assert (error.value.status_code, error.value.code) == (404, None)


def test_code_is_optional_for_callers_building_errors():
    error = ApiError(422, "bad", {"f": "why"}, "req-1")
    assert (error.code, error.details, str(error)) == (
        None,
        {"f": "why"},
        "HTTP 422: bad (request id req-1)",
    )
