"""The undo window (docs/architecture.md, "Dashboard: the undo window"): a dashboard decision
waits as a PendingDecision, undoable, and is recorded once when the window lapses (countdown
task or beat sweep); a decision made elsewhere meanwhile wins."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from dashboard import undo
from dashboard.choices import decision_choices
from dashboard.models import PendingDecision
from tests.helpers import stored
from tests.processes import wait_until
from waitpoints.models import AuditEvent, CompletionVia, WaitpointStatus
from waitpoints.tokens.services.complete import token_complete

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def undo_window(settings):
    settings.WAITPOINTS_DASHBOARD_UNDO_SECONDS = 5


def decide(client, token, choice="approved", comment="", **extra):
    return client.post(
        f"/dashboard/tokens/{token.id}/decide/",
        {"choice": choice, "comment": comment, "render": "row"},
        HTTP_HX_REQUEST="true",
        **extra,
    )


def later(seconds: float = 6):
    return timezone.now() + timedelta(seconds=seconds)


def test_a_decision_waits_undoable_and_the_token_stays_waiting(reviewer_client, make_token):
    token = make_token(title="Post #5010")

    html = decide(reviewer_client, token, comment="fine").content.decode()

    assert "Approving: recorded in" in html and "data-undo" in html
    assert 'data-state="pending-approved"' in html
    pending = PendingDecision.objects.get(token=token)
    assert (pending.choice, pending.comment, pending.reviewer) == ("approved", "fine", "alice")
    assert 4 <= (pending.apply_at - timezone.now()).total_seconds() <= 5
    assert stored(token).status == WaitpointStatus.WAITING  # the API and runs see nothing yet
    assert not AuditEvent.objects.filter(waitpoint=token, action="completed").exists()


def test_undo_deletes_it_and_nothing_is_ever_recorded(reviewer_client, make_token):
    token = make_token(title="Post #7")
    decide(reviewer_client, token)

    response = reviewer_client.post(
        f"/dashboard/tokens/{token.id}/undo/", {"render": "row"}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert "Undone: nothing was recorded for Post #7." in html
    assert 'data-state="waiting"' in html and 'name="choice"' in html
    assert not PendingDecision.objects.exists()
    assert undo.pending_decisions_apply_due(now=later()) == 0
    assert stored(token).status == WaitpointStatus.WAITING


def test_the_lapsed_decision_is_recorded_once_with_the_reviewers_output(
    reviewer_client, make_token
):
    token = make_token()
    decide(reviewer_client, token, "rejected", comment="spam")
    pending = PendingDecision.objects.get()

    assert undo.pending_decision_apply(pending_id=pending.pk) is None  # not due yet
    completion = undo.pending_decision_apply(pending_id=pending.pk, now=later())

    assert completion.won
    assert stored(token).output == {
        "approved": False,
        "status": "rejected",
        "choice": "rejected",
        "fields": {},
        "comment": "spam",
        "reviewedBy": "alice",
    }
    assert (stored(token).completed_via, stored(token).completed_by) == ("dashboard", "alice")
    assert not PendingDecision.objects.exists()
    # The sweep and a late countdown task find nothing more to do.
    assert undo.pending_decision_apply(pending_id=pending.pk, now=later()) is None
    assert undo.pending_decisions_apply_due(now=later()) == 0
    assert AuditEvent.objects.filter(waitpoint=token, action="completed").count() == 1


def test_too_late_to_undo_once_recorded(reviewer_client, make_token):
    token = make_token(title="Post #8")
    decide(reviewer_client, token)
    undo.pending_decisions_apply_due(now=later())

    response = reviewer_client.post(
        f"/dashboard/tokens/{token.id}/undo/", {"render": "row"}, HTTP_HX_REQUEST="true"
    )

    assert "Too late to undo Post #8: Approved by alice via the dashboard." in (
        response.content.decode()
    )
    assert stored(token).output["status"] == "approved"


def test_a_decision_elsewhere_during_the_window_wins(reviewer_client, make_token, environment):
    token = make_token()
    decide(reviewer_client, token)
    token_complete(
        environment=environment,
        token_id=token.id,
        data={"from": "api"},
        via=CompletionVia.API,
        actor="billing",
    )

    assert undo.pending_decisions_apply_due(now=later()) == 1
    assert stored(token).output == {"from": "api"}  # one final decision: the first one
    assert not PendingDecision.objects.exists()
    row = reviewer_client.get("/dashboard/", {"status": ""}).content.decode()
    assert "Completed by billing via the API" in row


def test_a_double_click_keeps_one_pending_decision(reviewer_client, make_token):
    token = make_token()
    decide(reviewer_client, token)
    decide(reviewer_client, token, "rejected", comment="changed my mind")
    assert PendingDecision.objects.get(token=token).choice == "approved"


def test_bulk_decisions_wait_and_undo_all_takes_them_back(reviewer_client, make_token):
    first, second, other = make_token(), make_token(), make_token()
    response = reviewer_client.post(
        "/dashboard/bulk/",
        {"choice": "approved", "ids": [first.id, second.id], "query": "status="},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "Approving 2 tokens: recorded in 5 s unless you undo." in html
    assert "Undo all" in html
    assert set(PendingDecision.objects.values_list("token_id", flat=True)) == {first.id, second.id}

    response = reviewer_client.post(
        "/dashboard/bulk/undo/",
        {"ids": [first.id, second.id], "query": "status="},
        HTTP_HX_REQUEST="true",
    )
    assert "Undone: nothing was recorded for 2 tokens." in response.content.decode()
    assert not PendingDecision.objects.exists()
    assert {stored(t).status for t in (first, second, other)} == {WaitpointStatus.WAITING}


def test_undo_touches_only_the_reviewers_own_decision(reviewer_client, make_token):
    token = make_token()
    PendingDecision.objects.create(
        token=token, choice="approved", reviewer="bob", apply_at=later(5)
    )
    response = reviewer_client.post(f"/dashboard/tokens/{token.id}/undo/")
    assert response.status_code == 302
    assert PendingDecision.objects.filter(reviewer="bob").exists()


def test_viewers_cannot_undo(viewer_client, make_token):
    token = make_token()
    assert viewer_client.post(f"/dashboard/tokens/{token.id}/undo/").status_code == 403
    assert viewer_client.post("/dashboard/bulk/undo/", {"ids": [token.id]}).status_code == 403


def race_apply_and_undo(*, pending_id: int, token_id: str) -> dict:
    """Apply and undo at the same moment, each on its own connection."""
    barrier = threading.Barrier(2)
    results = {}

    def run(name, action):
        barrier.wait()
        try:
            results[name] = action()
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=run, args=("applied", lambda: undo.pending_decision_apply(pending_id=pending_id))
        ),
        threading.Thread(
            target=run,
            args=("undone", lambda: undo.decisions_undo(token_ids=[token_id], reviewer="alice")),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres_only("row locks: SQLite runs one writer at a time")
@pytest.mark.django_db(transaction=True)
def test_undo_racing_the_applier_gives_exactly_one_outcome(reviewer, make_token):
    for _ in range(5):
        token = make_token()
        pending = PendingDecision.objects.create(
            token=token, choice="approved", reviewer="alice", apply_at=timezone.now()
        )
        results = race_apply_and_undo(pending_id=pending.pk, token_id=token.id)
        recorded = stored(token).status == WaitpointStatus.COMPLETED
        assert recorded == (results["undone"] == []), results
        assert recorded == (results["applied"] is not None and results["applied"].won)
        assert not PendingDecision.objects.filter(token=token).exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_records_the_decision_when_the_window_lapses(
    reviewer, make_token, start_worker, settings
):
    settings.WAITPOINTS_DASHBOARD_UNDO_SECONDS = 1
    start_worker()
    client = Client()
    client.force_login(reviewer)
    token = make_token()

    decide(client, token)  # the countdown message is sent on commit

    assert stored(token).status == WaitpointStatus.WAITING
    wait_until(
        lambda: stored(token).status == WaitpointStatus.COMPLETED,
        what="the worker to record the lapsed decision",
    )
    assert stored(token).output["reviewedBy"] == "alice"
    assert not PendingDecision.objects.exists()


def test_choices_read_the_reject_reason_setting(settings, make_token):
    token = make_token()
    settings.WAITPOINTS_REJECT_REQUIRES_REASON = False
    approve, reject = decision_choices(token)
    assert not reject.require_comment
    settings.WAITPOINTS_REJECT_REQUIRES_REASON = True
    approve, reject = decision_choices(token)
    assert reject.require_comment and not approve.require_comment
    assert (approve.value, approve.shortcut, reject.value, reject.shortcut) == (
        "approved",
        "a",
        "rejected",
        "r",
    )


FORM_RESPONSE = {
    "options": [
        {"value": "ship", "label": "Ship it", "style": "primary"},
        {"value": "hold", "label": "Hold", "style": "danger"},
    ],
    "schema": {
        "type": "object",
        "properties": {"amount": {"type": "integer", "minimum": 1, "maximum": 10}},
        "required": ["amount"],
    },
}


def detail_decide(client, token, data):
    return client.post(
        f"/dashboard/tokens/{token.id}/decide/",
        {"render": "detail", **data},
        HTTP_HX_REQUEST="true",
    )


def test_a_choice_with_form_fields_waits_out_the_window_then_is_recorded(
    reviewer_client, make_token
):
    token = make_token(response=FORM_RESPONSE)
    response = detail_decide(reviewer_client, token, {"choice": "ship", "field_0": "3"})

    assert response.status_code == 200
    assert 'data-state="pending-ship"' in response.content.decode()
    assert "Choosing Ship it" in response.content.decode()
    pending = PendingDecision.objects.get(token=token)
    assert (pending.choice, pending.fields) == ("ship", {"amount": 3})
    assert stored(token).status == WaitpointStatus.WAITING

    assert undo.pending_decision_apply(pending_id=pending.pk, now=later()) is not None
    assert stored(token).output == {
        "choice": "ship",
        "fields": {"amount": 3},
        "comment": "",
        "reviewedBy": "alice",
    }
    assert not PendingDecision.objects.exists()


def test_an_undone_choice_with_form_fields_records_nothing(reviewer_client, make_token):
    token = make_token(response=FORM_RESPONSE)
    detail_decide(reviewer_client, token, {"choice": "hold", "field_0": "2", "comment": "wait"})
    pending = PendingDecision.objects.get(token=token)
    assert pending.fields == {"amount": 2}

    reviewer_client.post(f"/dashboard/tokens/{token.id}/undo/", {"render": "detail"})

    assert not PendingDecision.objects.exists()
    assert undo.pending_decisions_apply_due(now=later()) == 0
    assert stored(token).status == WaitpointStatus.WAITING
    assert not AuditEvent.objects.filter(
        waitpoint=token, action=AuditEvent.Action.COMPLETED
    ).exists()


def test_an_invalid_form_creates_no_pending_decision(reviewer_client, make_token):
    token = make_token(response=FORM_RESPONSE)
    response = detail_decide(reviewer_client, token, {"choice": "ship", "field_0": "11"})
    assert response.status_code == 200 and "less than or equal to 10" in response.content.decode()
    assert not PendingDecision.objects.exists()


def test_a_pending_choice_the_contract_refuses_at_apply_time_is_dropped(make_token):
    token = make_token(response=FORM_RESPONSE)
    pending = PendingDecision.objects.create(
        token=token, choice="ship", fields={"amount": 99}, reviewer="alice", apply_at=later(-1)
    )
    assert undo.pending_decision_apply(pending_id=pending.pk) is None
    assert not PendingDecision.objects.filter(pk=pending.pk).exists()
    assert stored(token).status == WaitpointStatus.WAITING


def test_bulk_goes_through_the_window_per_token_and_reports_refusals(
    reviewer_client, make_token, settings
):
    settings.WAITPOINTS_REJECT_REQUIRES_REASON = False
    plain = make_token()
    custom = make_token(response={"options": [{"value": "ship", "label": "Ship"}]})
    response = reviewer_client.post(
        "/dashboard/bulk/", {"choice": "approved", "ids": [plain.id, custom.id]}, follow=True
    )
    assert list(PendingDecision.objects.values_list("token_id", "choice")) == [
        (plain.id, "approved")
    ]
    assert f"Not decided: {custom.id}" in response.content.decode()
    assert stored(custom).status == WaitpointStatus.WAITING
