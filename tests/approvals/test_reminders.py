"""Reminders and escalation with time moved forward (`now=`): sent when due to those who have not
voted, once per due time however many beats claim it, stopped by the decision."""

from datetime import timedelta

import pytest

from tests.concurrency import run_concurrently
from tests.notifications.support import queued_emails
from waitpoints.models import AuditEvent, CompletionVia, Waitpoint
from waitpoints.tokens.services.create import token_create
from waitpoints.tokens.services.reminders import escalations_send_due, reminders_send_due
from waitpoints.tokens.services.vote import token_vote


@pytest.fixture
def queue(monkeypatch):
    return queued_emails(monkeypatch)


def reminded(token) -> list[dict]:
    return list(
        AuditEvent.objects.filter(waitpoint=token, action="reminder_sent")
        .order_by("id")
        .values_list("data", flat=True)
    )


@pytest.mark.django_db
def test_reminders_go_when_due_to_those_who_have_not_voted_until_max(
    environment, people, queue, django_capture_on_commit_callbacks
):
    token = token_create(
        environment=environment,
        timeout="2d",
        reviewers={"users": ["anna", "outside@partner.example"], "groups": ["finance"]},
        requested_by="dora",
        approvals={"required": 3},
        remind={"every": "4h", "max": 2},
    ).waitpoint
    start = token.created_at
    assert reminders_send_due(now=start + timedelta(hours=3, minutes=59)) == 0
    token_vote(
        environment=environment, token_id=token.id, reviewer="ben", choice="approved", via="api"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send_due(now=start + timedelta(hours=4)) == 1
    expected = ["anna@example.com", "outside@partner.example"]  # ben voted, dora asked
    assert reminded(token) == [{"to": expected, "number": 1}]
    assert sorted(queue.recipients) == sorted(expected)
    assert reminders_send_due(now=start + timedelta(hours=7)) == 0  # next one at 8h
    assert reminders_send_due(now=start + timedelta(hours=8)) == 1
    assert reminders_send_due(now=start + timedelta(hours=40)) == 0  # max 2 reached
    assert [entry["number"] for entry in reminded(token)] == [1, 2]
    assert Waitpoint.objects.get(id=token.id).remind_at is None


@pytest.mark.django_db
def test_the_decision_stops_the_reminders(environment, people, queue):
    token = token_create(
        environment=environment,
        timeout="2d",
        reviewers={"users": ["anna"]},
        remind={"every": "1h"},
        escalate={"after": "2h", "to": ["carl"]},
    ).waitpoint
    token_vote(
        environment=environment, token_id=token.id, reviewer="anna", choice="approved", via="api"
    )
    later = token.created_at + timedelta(hours=5)
    assert reminders_send_due(now=later) == 0 and escalations_send_due(now=later) == 0
    assert not AuditEvent.objects.filter(
        waitpoint=token, action__in=["reminder_sent", "escalated"]
    ).exists()


@pytest.mark.django_db
def test_escalation_adds_reviewers_and_emails_them(
    environment, people, queue, django_capture_on_commit_callbacks
):
    token = token_create(
        environment=environment,
        timeout="2d",
        reviewers={"users": ["anna"]},
        escalate={"after": "24h", "to": ["carl", "boss@partner.example"]},
    ).waitpoint
    refused = {"environment": environment, "token_id": token.id, "choice": "approved"}
    from waitpoints.errors import NotAReviewer

    with pytest.raises(NotAReviewer):
        token_vote(**refused, reviewer="carl", via=CompletionVia.API)
    assert escalations_send_due(now=token.created_at + timedelta(hours=23)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert escalations_send_due(now=token.created_at + timedelta(hours=24)) == 1
    assert sorted(queue.recipients) == ["boss@partner.example", "carl@example.com"]
    stored = Waitpoint.objects.get(id=token.id)
    assert stored.policy["reviewers"]["users"] == ["anna", "carl", "boss@partner.example"]
    assert escalations_send_due(now=token.created_at + timedelta(hours=48)) == 0
    outcome = token_vote(**refused, reviewer="carl", via=CompletionVia.API)
    assert outcome.finished
    event = AuditEvent.objects.get(waitpoint=token, action="escalated")
    assert event.data["to"] == ["carl", "boss@partner.example"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres_only("row locks and conditional updates decide the race")
def test_two_beats_claiming_the_same_due_time_send_once(environment, people, queue):
    tokens = [
        token_create(
            environment=environment,
            timeout="2d",
            reviewers={"users": ["anna"]},
            remind={"every": "1h"},
            escalate={"after": "1h", "to": ["carl"]},
        ).waitpoint
        for _ in range(5)
    ]
    due = max(token.created_at for token in tokens) + timedelta(hours=1)
    counts = run_concurrently(
        [lambda: reminders_send_due(now=due)] * 4 + [lambda: escalations_send_due(now=due)] * 4
    )
    assert sum(counts[:4]) == 5 and sum(counts[4:]) == 5
    for token in tokens:
        assert len(reminded(token)) == 1
        assert AuditEvent.objects.filter(waitpoint=token, action="escalated").count() == 1
    # Exactly the audited sends were mailed (a reminder after the escalation includes carl).
    audited = [
        address
        for event in AuditEvent.objects.filter(action__in=["reminder_sent", "escalated"])
        for address in event.data.get("emailed", event.data["to"])
    ]
    assert sorted(queue.recipients) == sorted(audited)
    assert audited.count("carl@example.com") in range(5, 11) and "anna@example.com" in audited


@pytest.mark.django_db
def test_votes_reminders_and_escalations_read_as_sentences(environment, people, queue):
    from waitpoints.display.audit import audit_line

    token = token_create(
        environment=environment,
        timeout="2d",
        reviewers={"users": ["anna", "ben"]},
        approvals={"required": 2},
        remind={"every": "1h"},
        escalate={"after": "1h", "to": ["carl"]},
    ).waitpoint
    token_vote(
        environment=environment,
        token_id=token.id,
        reviewer="anna",
        choice="approved",
        comment="fine",
        via="dashboard",
    )
    due = token.created_at + timedelta(hours=1)
    escalations_send_due(now=due)
    reminders_send_due(now=due)
    sentences = [
        audit_line(event).sentence
        for event in AuditEvent.objects.filter(waitpoint=token).exclude(action="created")
    ]
    assert sentences == [
        "Vote: Approved by anna — 'fine' (dashboard)",
        "Escalated to carl",
        "Reminder 1 sent to ben@example.com, carl@example.com",
    ]
