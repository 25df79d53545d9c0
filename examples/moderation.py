"""The moderation demo: a run asks a person to review a post and waits for the decision.

    python manage.py trigger moderation --payload '{"postId": 42, "text": "Hello!"}'

The run creates a token (shown in the dashboard), notifies moderators once, suspends without
holding a worker, and returns the decision when someone approves or rejects (or the token times
out).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

from waitpoints import task, wait

logger = logging.getLogger(__name__)


def notify_moderators(token_id: str, callback_url: str, post: dict) -> dict:
    """The side effect: runs once per run, however often the run is replayed."""
    recipients = getattr(settings, "MODERATORS", None) or ["moderators@example.com"]
    body = (
        f"Post {post.get('postId')} needs a review:\n\n{post.get('text', '')}\n\n"
        f"Review it in the dashboard ({settings.WAITPOINTS_PUBLIC_URL}/dashboard/), or approve "
        f"from a script:\n\n  curl -X POST '{callback_url}' -d '{{\"approved\": true}}'\n"
    )
    send_mail(f"Review post {post.get('postId')}", body, None, recipients)
    logger.info("Moderation token %s: complete it at %s", token_id, callback_url)
    return {"notified": recipients}


@task(id="moderation")
def moderate(payload: dict | None) -> dict:
    post = payload or {}
    token = wait.create_token(
        timeout=post.get("timeout", "24h"),
        tags=["moderation"],
        title=f"Review post {post.get('postId', '?')}",
        context={"text": post.get("text", ""), "author": post.get("author")},
    )
    wait.step("notify-moderators", notify_moderators, token.id, token.url, post)
    result = wait.for_token(token)  # suspends: the worker is released until a decision
    if not result.ok:
        return {"postId": post.get("postId"), "status": "timed_out"}
    decision = result.output or {}
    return {
        "postId": post.get("postId"),
        "status": "approved" if decision.get("approved") else "rejected",
        "comment": decision.get("comment"),
        "reviewedBy": decision.get("reviewedBy"),
    }
