"""The inbox: login, default WAITING view, every filter, htmx partials, cursors, query count."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import WaitpointFactory
from waitpoints.models import CompletionVia, WaitpointStatus
from waitpoints.tokens.services.complete import token_complete, token_force_timeout

INBOX = "/dashboard/"
pytestmark = pytest.mark.django_db


def listed_ids(response) -> set[str]:
    """Token ids of the rows rendered (each row has id="row-<token id>")."""
    html = response.content.decode()
    return {chunk.split('"', 1)[0] for chunk in html.split('id="row-')[1:]}


def test_anonymous_user_is_sent_to_login(client):
    response = client.get(INBOX)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/dashboard/")


def test_root_redirects_to_the_inbox(reviewer_client):
    response = reviewer_client.get("/")
    assert response.status_code == 302 and response["Location"] == INBOX


def test_login_page_logs_a_reviewer_in(client, reviewer):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b'name="username"' in page.content
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "pw-alice-123", "next": INBOX}
    )
    assert response.status_code == 302 and response["Location"] == INBOX
    assert client.get(INBOX).status_code == 200


def test_logout_is_a_post(reviewer_client):
    # A GET (a link, a prefetch, an image tag on another site) must not log anyone out.
    assert reviewer_client.get("/accounts/logout/").status_code == 405
    assert reviewer_client.get(INBOX).status_code == 200  # the session still works

    response = reviewer_client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    response = reviewer_client.get(INBOX)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_default_view_lists_only_waiting_tokens_newest_first(
    reviewer_client, make_token, environment
):
    older = make_token(title="Older")
    newer = make_token(title="Newer")
    done = make_token(title="Done")
    token_complete(
        environment=environment, token_id=done.id, data={}, via=CompletionVia.API, actor="k"
    )

    response = reviewer_client.get(INBOX)

    assert response.status_code == 200
    assert listed_ids(response) == {older.id, newer.id}
    html = response.content.decode()
    assert html.index(newer.id) < html.index(older.id)
    assert "<html" in html  # a full page without htmx


def test_status_filter_takes_several_and_empty_means_any(reviewer_client, make_token, environment):
    waiting = make_token()
    completed = make_token()
    token_complete(
        environment=environment, token_id=completed.id, data=1, via=CompletionVia.API, actor="k"
    )
    timed_out = make_token()
    token_force_timeout(environment=environment, token_id=timed_out.id, actor="x")

    both = reviewer_client.get(INBOX, {"status": ["", "COMPLETED", "TIMED_OUT"]})
    assert listed_ids(both) == {completed.id, timed_out.id}
    any_status = reviewer_client.get(INBOX, {"status": ""})
    assert listed_ids(any_status) == {waiting.id, completed.id, timed_out.id}


def test_overdue_waiting_row_counts_as_timed_out(reviewer_client, environment):
    overdue = WaitpointFactory(environment=environment, timeout_at=timezone.now() - timedelta(1))
    assert overdue.id not in listed_ids(reviewer_client.get(INBOX))
    assert overdue.id in listed_ids(reviewer_client.get(INBOX, {"status": "TIMED_OUT"}))


def test_tags_filter_means_has_all(reviewer_client, make_token):
    both = make_token(tags=["moderation", "urgent"])
    make_token(tags=["moderation"])
    make_token(tags=["urgent"])

    response = reviewer_client.get(INBOX, {"tags": "moderation, urgent"})

    assert listed_ids(response) == {both.id}


def test_id_search_key_and_environment_filters(reviewer_client, make_token, other_environment):
    keyed = make_token(idempotency_key="order-42")
    plain = make_token()
    elsewhere = make_token(environment=other_environment)

    assert listed_ids(reviewer_client.get(INBOX, {"key": "order-42"})) == {keyed.id}
    # The id's beginning, with or without "waitpoint_"; not a fragment from its middle (a
    # prefix uses the id's index, a substring would read every token).
    assert listed_ids(reviewer_client.get(INBOX, {"q": plain.id[:16]})) == {plain.id}
    unprefixed = plain.id.removeprefix("waitpoint_")[:8]
    assert listed_ids(reviewer_client.get(INBOX, {"q": unprefixed})) == {plain.id}
    assert listed_ids(reviewer_client.get(INBOX, {"q": plain.id[-12:]})) == set()
    assert listed_ids(reviewer_client.get(INBOX, {"env": "staging"})) == {elsewhere.id}
    everything = reviewer_client.get(INBOX)
    assert listed_ids(everything) == {keyed.id, plain.id, elsewhere.id}
    assert b"pill-env" in everything.content  # several environments: each row says which


def test_id_search_matches_the_ids_case(reviewer_client, environment):
    """Ids are case-sensitive (url-safe base64): "waitpoint_ab" is not "waitpoint_AB", on
    SQLite too, whose LIKE ignores ASCII case."""
    lower = WaitpointFactory(environment=environment, id="waitpoint_casecheck1")
    upper = WaitpointFactory(environment=environment, id="waitpoint_CASECHECK2")

    assert listed_ids(reviewer_client.get(INBOX, {"q": "casecheck"})) == {lower.id}
    assert listed_ids(reviewer_client.get(INBOX, {"q": "waitpoint_CASE"})) == {upper.id}
    assert listed_ids(reviewer_client.get(INBOX, {"q": "CaseCheck"})) == set()


def test_period_and_date_range_filters(reviewer_client, make_token):
    now = timezone.now()
    recent = make_token()
    last_week = make_token(now=now - timedelta(days=3), timeout=now + timedelta(hours=1))
    ancient = make_token(now=now - timedelta(days=40), timeout=now + timedelta(hours=1))

    assert listed_ids(reviewer_client.get(INBOX, {"period": "1d"})) == {recent.id}
    assert listed_ids(reviewer_client.get(INBOX, {"period": "7d"})) == {recent.id, last_week.id}
    day = (now - timedelta(days=40)).date().isoformat()
    by_dates = reviewer_client.get(INBOX, {"created_from": day, "created_to": day})
    assert listed_ids(by_dates) == {ancient.id}


def test_invalid_filter_is_reported_and_left_out(reviewer_client, make_token):
    token = make_token()
    response = reviewer_client.get(INBOX, {"period": "2y", "created_from": "not-a-date"})
    assert response.status_code == 200
    assert b"Some filters were not applied" in response.content
    assert listed_ids(response) == {token.id}


def test_htmx_request_gets_only_the_results_partial(reviewer_client, make_token):
    token = make_token(tags=["a"])
    response = reviewer_client.get(INBOX, {"tags": "a"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="inbox-results"')
    assert "<html" not in html and token.id in html
    assert "HX-Request" in response["Vary"]
    # No self-swapping poll: the live refresh (live.js) never replaces the table by itself.
    assert "every 5s" not in html and "hx-trigger" not in html.split("<table", 1)[0]


def test_live_refresh_answers_the_page_ids_and_the_shown_rows_as_they_are(
    reviewer_client, make_token, environment
):
    shown, arrived = make_token(title="Shown"), make_token(title="Arrived")
    token_complete(environment=environment, token_id=shown.id, data=None, via="api", actor="bob")
    response = reviewer_client.get(
        INBOX, {"refresh": "1", "shown": [shown.id]}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="inbox-refresh">')
    # The default view lists WAITING tokens: the decided one is no longer on the page, but its
    # row comes back, as it is now, so the screen can mark it in place.
    page_ids = html.split("data-page-ids", 1)[1].split("</ul>", 1)[0]
    assert arrived.id in page_ids and shown.id not in page_ids
    row = html.split(f'<tr id="row-{shown.id}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-state="completed"' in row and "data-elsewhere" in row
    assert f'id="row-{arrived.id}"' not in html


def test_history_restore_gets_the_full_page(reviewer_client, make_token):
    make_token()
    response = reviewer_client.get(
        INBOX, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


def test_refresh_keeps_selected_rows_checked(reviewer_client, make_token):
    picked, other = make_token(), make_token()
    response = reviewer_client.get(INBOX, {"ids": picked.id}, HTTP_HX_REQUEST="true")
    html = response.content.decode()

    def checkbox(token_id: str) -> str:
        return html.split(f'name="ids" value="{token_id}"', 1)[1].split(">", 1)[0]

    assert checkbox(picked.id).endswith(" checked")
    assert "checked" not in checkbox(other.id)
    # The pager links and the bulk form's `query` carry the filters, not the selection.
    assert "ids=" not in html.split('name="query" value="', 1)[1].split('"', 1)[0]


def test_cursor_pagination_walks_every_token_once(reviewer_client, make_token):
    now = timezone.now()
    created = [
        make_token(now=now - timedelta(seconds=index), timeout=now + timedelta(hours=1))
        for index in range(23)
    ]
    seen: list[str] = []
    params = {"size": "10"}
    while True:
        response = reviewer_client.get(INBOX, params)
        seen.extend(sorted(listed_ids(response), key=[t.id for t in created].index))
        html = response.content.decode()
        if 'rel="next"' not in html:
            break
        href = html.split('rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        params = dict(pair.split("=", 1) for pair in href.split("?", 1)[1].split("&"))
    assert seen == [token.id for token in created]


def test_broken_cursor_shows_the_first_page(reviewer_client, make_token):
    token = make_token()
    response = reviewer_client.get(INBOX, {"after": "garbage"})
    assert response.status_code == 200
    assert b"no longer valid" in response.content
    assert listed_ids(response) == {token.id}


def test_viewer_sees_the_list_without_actions(viewer_client, make_token):
    token = make_token()
    response = viewer_client.get(INBOX)
    assert token.id in listed_ids(response)
    html = response.content.decode()
    assert "bulk-form" not in html and 'name="choice"' not in html
    assert "read-only" in html


def test_inbox_renders_in_a_constant_number_of_queries(
    reviewer_client, environment, other_environment, django_assert_num_queries
):
    for index in range(3):
        WaitpointFactory(environment=environment, title=f"t{index}", tags=["a", "b"])
    # Seven, plus this reviewer's pending decisions (the undo window) on the page, plus who
    # they are for "Assigned to me" (their user and groups; whether they have assignments).
    with django_assert_num_queries(11) as few:
        reviewer_client.get(INBOX, {"status": "", "size": "100"})
    for index in range(200):
        env = environment if index % 2 else other_environment
        WaitpointFactory(
            environment=env,
            title=f"t{index}",
            tags=["a", "b", f"n{index}"],
            status=WaitpointStatus.COMPLETED if index % 3 == 0 else WaitpointStatus.WAITING,
        )
    with django_assert_num_queries(11) as many:
        response = reviewer_client.get(INBOX, {"status": "", "size": "100"})
    assert len(listed_ids(response)) == 100
    assert len(few.captured_queries) == len(many.captured_queries)
