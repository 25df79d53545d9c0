"""`wait`: the token verbs, and the durable-run verbs inside a task run."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from waitpoints.client import CreatedToken, Token
from waitpoints.core.durations import parse_duration, parse_moment
from waitpoints.core.validation import clean_tags
from waitpoints.decisions.contract import NOT_GIVEN
from waitpoints.errors import InvalidInput
from waitpoints.models import CompletionVia, Environment, Waitpoint
from waitpoints.notifications.delivery import queue_approval_emails
from waitpoints.notifications.emails import clean_approval_request
from waitpoints.runs.runtime import calls
from waitpoints.runs.runtime.context import current_run, require_run
from waitpoints.runs.runtime.outputs import WaitResult
from waitpoints.sdk.environments import resolve_environment
from waitpoints.tokens import assignment, public_access, selectors
from waitpoints.tokens.callbacks import callback_url
from waitpoints.tokens.selectors import MAX_PAGE_SIZE, TokenFilters
from waitpoints.tokens.services.complete import token_complete, token_fail
from waitpoints.tokens.services.create import token_create
from waitpoints.tokens.services.extend import token_extend


def token_from_waitpoint(waitpoint: Waitpoint) -> Token:
    """The API's view of a token (effective status: overdue counts as TIMED_OUT)."""
    return Token(
        id=waitpoint.id,
        url=callback_url(waitpoint),
        status=waitpoint.current_status,
        completed_at=waitpoint.result_completed_at,
        timeout_at=waitpoint.timeout_at,
        idempotency_key=waitpoint.idempotency_key,
        idempotency_key_expires_at=waitpoint.idempotency_key_expires_at,
        tags=waitpoint.tag_names,
        created_at=waitpoint.created_at,
        title=waitpoint.title,
        context=waitpoint.context,
        output=waitpoint.result_output if waitpoint.is_finished else None,
        output_is_error=waitpoint.result_is_error,
        response=waitpoint.declared_response,
        resolution=waitpoint.resolution,
        display=waitpoint.display,
    )


class JournaledToken(CreatedToken):
    """A token created inside a run, as the run and each of its replays get it: the callback URL
    and a fresh public access token are derived from the id on first read. A replay seldom reads
    them, and deriving both (a URL reverse, an HMAC and a JWT) was ~0.4 ms of every resumed run's
    way to the line after `for_token` (docs/benchmarks.md, P2)."""

    def __init__(
        self, waitpoint: Waitpoint | None = None, *, is_cached: bool, **fields: Any
    ) -> None:
        if waitpoint is None:  # dataclasses.replace() passes every field
            CreatedToken.__init__(self, is_cached=is_cached, **fields)
            return
        object.__setattr__(self, "id", waitpoint.id)
        object.__setattr__(self, "is_cached", is_cached)
        object.__setattr__(self, "_waitpoint", waitpoint)

    @functools.cached_property
    def url(self) -> str:  # type: ignore[override]
        return callback_url(self._waitpoint)

    @functools.cached_property
    def public_access_token(self) -> str:  # type: ignore[override]
        return public_access.issue(self._waitpoint)


def token_id_of(token: str | CreatedToken | Token) -> str:
    return token if isinstance(token, str) else token.id


class Wait:
    """The `wait` namespace: token verbs anywhere; durable-run verbs (for_token, step, for_,
    until) inside a task run, where create_token is journaled too."""

    def create_token(
        self,
        *,
        timeout: str | datetime | None = None,
        idempotency_key: str | None = None,
        idempotency_key_ttl: str | None = None,
        tags: str | list[str] | None = None,
        title: str = "",
        context: Any = None,
        response: dict[str, Any] | None = None,
        timeout_output: Any = NOT_GIVEN,
        display: dict[str, str] | None = None,
        reviewers: dict[str, list[str]] | None = None,
        requested_by: str | None = None,
        approvals: dict[str, int] | None = None,
        remind: dict[str, Any] | None = None,
        escalate: dict[str, Any] | None = None,
        environment: str | Environment | None = None,
    ) -> CreatedToken:
        """Create a token. `response`: what may be answered (options, multiple, a JSON Schema
        form; README, "Decisions"); `timeout_output`: the output the deadline completes it with
        (instead of timing out). `reviewers`, `requested_by`, `approvals`, `remind`,
        `escalate`: who decides and how many must agree (README, "Who decides")."""
        context_value = context
        decision_fields: dict[str, Any] = {"response": response}
        if timeout_output is not NOT_GIVEN:
            decision_fields["timeout_output"] = timeout_output
        policy = {
            "reviewers": reviewers,
            "requested_by": requested_by,
            "approvals": approvals,
            "remind": remind,
            "escalate": escalate,
        }
        decision_fields.update({key: value for key, value in policy.items() if value is not None})

        run_context = current_run()
        if run_context is not None:
            # Journaled: a replay returns this same token instead of creating another.
            waitpoint, is_cached = calls.create_token(
                run_context,
                timeout=timeout,
                idempotency_key=idempotency_key,
                idempotency_key_ttl=idempotency_key_ttl,
                tags=tags,
                title=title,
                context=context_value,
                **decision_fields,
                display=display,
            )
            return JournaledToken(waitpoint, is_cached=is_cached)
        created = token_create(
            environment=resolve_environment(environment),
            timeout=timeout,
            idempotency_key=idempotency_key,
            idempotency_key_ttl=idempotency_key_ttl,
            tags=tags,
            title=title,
            context=context,
            **decision_fields,
            display=display,
        )
        return CreatedToken(
            id=created.waitpoint.id,
            url=callback_url(created.waitpoint),
            is_cached=created.is_cached,
            public_access_token=public_access.issue(created.waitpoint),
        )

    def complete_token(
        self,
        token: str | CreatedToken | Token,
        data: Any = None,
        *,
        environment: str | Environment | None = None,
    ) -> bool:
        """Complete a token; False when it was already finished (nothing changed)."""
        completion = token_complete(
            environment=resolve_environment(environment),
            token_id=token_id_of(token),
            data=data,
            via=CompletionVia.SDK,
            actor="sdk",
        )
        return completion.won

    def fail_token(
        self,
        token: str | CreatedToken | Token,
        error: dict[str, Any],
        *,
        environment: str | Environment | None = None,
    ) -> bool:
        """Fail a token with `error` (`{"message", "name"?, "data"?}`): it ends with
        outputIsError and a waiting run resumes with ok=False. False when it was already
        finished (nothing changed)."""
        completion = token_fail(
            environment=resolve_environment(environment),
            token_id=token_id_of(token),
            error=error,
            actor="sdk",
        )
        return completion.won

    def extend_token(
        self,
        token: str | CreatedToken | Token,
        timeout: str | datetime,
        *,
        environment: str | Environment | None = None,
    ) -> Token:
        """Move a waiting token's deadline to `timeout` (a duration from now or a date, later
        than the current deadline); AlreadyFinished once it is finished."""
        waitpoint = token_extend(
            environment=resolve_environment(environment),
            token_id=token_id_of(token),
            timeout=timeout,
            actor="sdk",
            via=CompletionVia.SDK,
        )
        return self.retrieve_token(waitpoint.id, environment=waitpoint.environment)

    def retrieve_token(
        self, token: str | CreatedToken | Token, *, environment: str | Environment | None = None
    ) -> Token:
        waitpoint = selectors.token_get(
            environment=resolve_environment(environment), token_id=token_id_of(token)
        )
        return token_from_waitpoint(waitpoint)

    def send_approval_email(
        self,
        token: str | CreatedToken | Token,
        *,
        to: list[str] | str,
        subject: str | None = None,
        message: str = "",
        environment: str | Environment | None = None,
    ) -> list[str]:
        """Email each address its own signed link per option of the token (Approve and Reject
        by default), valid until the timeout.

        Opening a link only shows a confirm page (with the token's form, if it has one); the
        recipient's POST completes the token with `{"choice", "fields", "comment",
        "reviewedBy": <address>}` (README, "Decisions"). Everything is
        validated here (InvalidInput, nothing queued); the emails are sent by a Celery task
        once the current transaction commits, and a failed send is retried there. Returns the
        addresses that will be emailed (cleaned, duplicates dropped).
        """
        request = clean_approval_request(to=to, subject=subject, message=message)
        waitpoint = selectors.token_get(
            environment=resolve_environment(environment), token_id=token_id_of(token)
        )
        if waitpoint.is_finished:
            # Its links could only show the outcome.
            raise InvalidInput({"token": f"is already {waitpoint.current_status}"})
        refused = assignment.refused_addresses(
            waitpoint.decision_policy, request.recipients, field="to"
        )
        if refused:
            raise InvalidInput(refused)
        queue_approval_emails(waitpoint.id, request, sent_by="sdk")
        return list(request.recipients)

    def list_tokens(
        self,
        *,
        status: str | list[str] | None = None,
        tags: str | list[str] | None = None,
        period: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        idempotency_key: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        environment: str | Environment | None = None,
    ) -> Iterator[Token]:
        """Every matching token, newest first; pages are fetched as you iterate."""
        filters = _filters(status, tags, period, from_, to, idempotency_key)
        queryset = selectors.token_list(
            environments=resolve_environment(environment), filters=filters
        )
        after = None
        while True:
            page = selectors.paginate(queryset, size=page_size, after=after)
            yield from (token_from_waitpoint(waitpoint) for waitpoint in page.items)
            if page.next_cursor is None:
                return
            after = page.next_cursor

    # --- Durable-run verbs (only inside a task run; see README "Task runs") --------------------

    def for_token(
        self, token: str | CreatedToken | Token, *, output_type: Any = None
    ) -> WaitResult:
        """Wait until the token is completed or times out; the run suspends meanwhile.

        Returns at once when the token is already finished. While it waits, the run is WAITING
        and no worker is held; completion or timeout resumes it (by replay) right here.
        `output_type` (a dataclass, TypedDict or type) checks and converts the output.
        """
        run_context = require_run("for_token")
        return calls.for_token(run_context, token_id_of(token), output_type=output_type)

    def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a side effect once per run and journal its JSON result; replays return that.

        Outside a run it simply calls `fn(*args, **kwargs)`.
        """
        run_context = current_run()
        if run_context is None:
            return fn(*args, **kwargs)
        return calls.step(run_context, name, fn, args, kwargs)

    def heartbeat(self) -> None:
        """Renew the run's lease from long-running code between durable calls, so the
        stalled-run sweeper does not take the run over. Stops the run (like any durable call)
        if it was canceled or taken over meanwhile. Outside a run it does nothing."""
        run_context = current_run()
        if run_context is not None:
            calls.heartbeat(run_context)

    def for_(
        self,
        duration: str | timedelta | None = None,
        *,
        seconds: float = 0,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        weeks: float = 0,
    ) -> None:
        """Durable sleep: `wait.for_(minutes=5)` or `wait.for_("1h30m")`. No worker is held."""
        run_context = require_run("for_")
        delta = timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days, weeks=weeks)
        if isinstance(duration, timedelta):
            delta += duration
        elif duration is not None:
            delta += parse_duration(duration, field="duration")
        calls.sleep_for(run_context, delta)

    def until(self, moment: datetime) -> None:
        """Durable sleep until an aware datetime. The first execution's moment is journaled."""
        run_context = require_run("until")
        calls.sleep_until(run_context, moment)


def _filters(status, tags, period, from_, to, idempotency_key) -> TokenFilters:
    statuses = [status] if isinstance(status, str) else list(status or [])
    filters = TokenFilters(
        statuses=[item.upper() for item in statuses],
        any_tags=clean_tags(tags),
        idempotency_key=idempotency_key,
    )
    if period is not None:
        filters.created_from = timezone.now() - parse_duration(period, field="period")
    if from_ is not None:
        filters.created_from = (
            from_ if isinstance(from_, datetime) else parse_moment(from_, field="from_")
        )
    if to is not None:
        filters.created_to = to if isinstance(to, datetime) else parse_moment(to, field="to")
    return filters


wait = Wait()
