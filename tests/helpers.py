"""Plain helpers shared by the test modules (fixtures live in the conftest.py files)."""

from typing import Any

from django.contrib.auth.models import Group, Permission

from waitpoints.models import AuditEvent, Waitpoint, WaitpointStatus

TOKENS = "/api/v1/waitpoints/tokens"


def path_of(url: str) -> str:
    """The path of an absolute URL the API returned (the test client wants paths)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def stored(token: Any) -> Waitpoint:
    """The waitpoint row as stored now: `token` is an id, an API body (`{"id": ...}`) or a model."""
    if isinstance(token, dict):
        token = token["id"]
    return Waitpoint.objects.get(id=getattr(token, "id", token))


def assert_unchanged(token: Any) -> None:
    """The token is still WAITING as created: no output, no completion, no finishing audit row."""
    waitpoint = stored(token)
    assert (
        waitpoint.status,
        waitpoint.output,
        waitpoint.completed_at,
        waitpoint.completed_via,
        waitpoint.completed_by,
    ) == (WaitpointStatus.WAITING, None, None, "", ""), waitpoint.id
    finishing = AuditEvent.objects.filter(
        waitpoint_id=waitpoint.id,
        action__in=[
            AuditEvent.Action.COMPLETED,
            AuditEvent.Action.TIMED_OUT,
            AuditEvent.Action.FORCED_TIMEOUT,
        ],
    )
    assert not finishing.exists(), list(finishing.values("action", "via", "actor"))


def post_raw(client, path: str, body: bytes, content_type: str = "application/json", **extra):
    """POST `body` exactly as given, bytes and all, past the test client's JSON encoder.

    A server error comes back as a 500 response (not as an exception raised here), so the
    test's status assertion is what reports it.
    """
    client.raise_request_exception = False
    return client.generic("POST", path, body, content_type=content_type, **extra)


def reviewers_group() -> Group:
    """The migration's group; transactional tests flush it, so recreate it the same way."""
    group, _ = Group.objects.get_or_create(name="Reviewers")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="waitpoints", codename="complete_waitpoint")
    )
    return group
