"""20 reviewers vote on a quorum-of-3 token at once through the API: the row lock counts them, so
exactly 3 approvals are recorded, the token finishes once and its run resumes once."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.concurrency import run_concurrently
from tests.helpers import TOKENS
from tests.runs import tasks_for_tests  # noqa: F401 (registers the test tasks)
from waitpoints import tasks
from waitpoints.models import AuditEvent, Run, RunBlock, RunStatus, Waitpoint, WaitpointVote
from waitpoints.runs.runtime.execute import run_execute

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres_only("row locks decide the race"),
]

VOTERS = 20


@pytest.mark.parametrize("choice", ["approved", "mixed"])
def test_20_concurrent_votes_on_a_quorum_of_3(environment, secret_key, choice):
    names = [f"voter{n:02d}" for n in range(VOTERS)]
    for name in names:
        User.objects.create_user(name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret_key}")
    token = client.post(TOKENS, {"approvals": {"required": 3}}, format="json").json()
    triggered = tasks.trigger("test-outside-token", {"token": token["id"]}, environment=environment)
    assert run_execute(run_id=triggered.id) == "WAITING"

    def voter(name, index):
        def post():
            own = APIClient()
            own.credentials(HTTP_AUTHORIZATION=f"Bearer {secret_key}")
            # "mixed": every fifth voter rejects, so whichever comes first decides.
            decision = "rejected" if choice == "mixed" and index % 5 == 4 else "approved"
            body = {"reviewer": name, "choice": decision}
            return own.post(f"{TOKENS}/{token['id']}/reviews", body, format="json").status_code

        return post

    statuses = run_concurrently([voter(name, i) for i, name in enumerate(names)])

    stored = Waitpoint.objects.get(id=token["id"])
    votes = list(WaitpointVote.objects.filter(waitpoint=stored))
    assert stored.status == "COMPLETED"
    assert sorted(set(statuses)) == [200, 409]
    assert statuses.count(200) == len(votes)
    assert [v.reviewer for v in votes] == [v["reviewer"] for v in stored.output["votes"]]
    approvals = [v for v in votes if v.choice == "approved"]
    if choice == "approved":
        assert len(approvals) == 3 and len(votes) == 3
    else:  # three approvals, or fewer then the veto
        assert len(approvals) <= 3
        assert len(votes) == 3 or votes[-1].choice == "rejected"
    assert AuditEvent.objects.filter(waitpoint=stored, action="completed").count() == 1
    block = RunBlock.objects.get(run_id=triggered.id)
    assert block.resumed_at is not None
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    run = Run.objects.get(id=triggered.id)
    assert run.status == RunStatus.COMPLETED and run.output == stored.output
