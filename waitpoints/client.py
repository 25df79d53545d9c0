"""An HTTP client for the REST API with the SDK's token verbs, for Python services elsewhere.

    from waitpoints.client import Client

    client = Client("https://waitpoints.example.com", "wp_prod_…")
    token = client.create_token(timeout="1h", tags=["moderation"])
    client.complete_token(token, {"approved": True})
    for item in client.list_tokens(status="COMPLETED"):
        ...

It needs only `requests` (Django is not imported). Results are the SDK's dataclasses
(`CreatedToken`, `Token`); every error response raises `ApiError` with the HTTP status, the
server's message, its stable `code` (e.g. "invalid_input", "not_found": match on this, not on
the message), its per-field `details` and the request id to quote in a support ticket.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

__all__ = ["ApiError", "Client", "CreatedToken", "Token", "TokenPage"]

DEFAULT_TIMEOUT_SECONDS = 30.0
NOT_GIVEN: Any = object()  # no timeout_output (None is a JSON null output)


@dataclass(frozen=True)
class CreatedToken:
    """The answer to a create; the in-process SDK returns the same class."""

    id: str
    url: str
    is_cached: bool
    public_access_token: str


@dataclass(frozen=True)
class Token:
    """A token as the API reports it; the in-process SDK returns the same class."""

    id: str
    url: str
    status: str
    completed_at: datetime | None
    timeout_at: datetime
    idempotency_key: str | None
    idempotency_key_expires_at: datetime | None
    tags: list[str]
    created_at: datetime
    title: str
    context: Any
    output: Any = None
    output_is_error: bool = False
    response: Any = None  # the response contract (README, "Decisions")
    resolution: dict[str, Any] | None = None  # {"via", "by"} once finished
    display: dict[str, str] | None = None  # how people see the context (README)

    @property
    def error(self) -> Any:
        return self.output if self.output_is_error else None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Token:
        return cls(
            id=body["id"],
            url=body["url"],
            status=body["status"],
            completed_at=_parse_date(body.get("completedAt")),
            timeout_at=_parse_date(body["timeoutAt"]),
            idempotency_key=body.get("idempotencyKey"),
            idempotency_key_expires_at=_parse_date(body.get("idempotencyKeyExpiresAt")),
            tags=list(body.get("tags") or []),
            created_at=_parse_date(body["createdAt"]),
            title=body.get("title") or "",
            context=body.get("context"),
            output=body.get("output"),
            output_is_error=bool(body.get("outputIsError", False)),
            response=body.get("response"),
            resolution=body.get("resolution"),
            display=body.get("display"),
        )


@dataclass(frozen=True)
class TokenPage:
    """One page of `list_tokens_page`; pass a cursor back as `after=` / `before=`."""

    tokens: list[Token]
    next_cursor: str | None = None
    previous_cursor: str | None = None


class ApiError(Exception):
    """An error response: `status_code`, the server's `message`, and `details` per field.

    `code` is the body's stable error code (the README's error table lists them, e.g.
    "invalid_api_key", "not_found", "invalid_input", "database_unavailable"); it is None when
    the answer was not the API's JSON (a proxy's error page, an unreachable server's 502).
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        details: dict[str, str] | None = None,
        request_id: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(status_code, message)
        self.status_code = status_code
        self.message = message
        self.details = details or {}
        self.request_id = request_id
        self.code = code

    def __str__(self) -> str:
        text = f"HTTP {self.status_code}: {self.message}"
        return f"{text} (request id {self.request_id})" if self.request_id else text


def _parse_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    # Python 3.11's fromisoformat reads "Z" and any fraction length.
    return datetime.fromisoformat(value)


def _date_param(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _comma_list(value: str | list[str] | tuple[str, ...]) -> str:
    return value if isinstance(value, str) else ",".join(value)


class Client:
    """The waitpoint-token verbs of `waitpoints.wait`, over `{base_url}/api/v1`."""

    def __init__(
        self,
        base_url: str,
        secret_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self._headers = {
            "Authorization": f"Bearer {secret_key}",
            "Accept": "application/json",
            "User-Agent": "waitpoints-python-client",
        }

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the verbs -------------------------------------------------------------------------------

    def create_token(
        self,
        *,
        timeout: str | datetime | None = None,
        idempotency_key: str | None = None,
        idempotency_key_ttl: str | None = None,
        tags: str | list[str] | None = None,
        title: str | None = None,
        context: Any = None,
        response: dict[str, Any] | None = None,
        timeout_output: Any = NOT_GIVEN,
        display: dict[str, str] | None = None,
        reviewers: dict[str, list[str]] | None = None,
        requested_by: str | None = None,
        approvals: dict[str, int] | None = None,
        remind: dict[str, Any] | None = None,
        escalate: dict[str, Any] | None = None,
    ) -> CreatedToken:
        body: dict[str, Any] = {}
        if timeout is not None:
            body["timeout"] = _date_param(timeout)
        if idempotency_key is not None:
            body["idempotencyKey"] = idempotency_key
        if idempotency_key_ttl is not None:
            body["idempotencyKeyTTL"] = idempotency_key_ttl
        if tags is not None:
            body["tags"] = tags
        if title is not None:
            body["title"] = title
        if context is not None:
            body["context"] = context
        if response is not None:
            body["response"] = response
        if timeout_output is not NOT_GIVEN:
            body["timeoutOutput"] = timeout_output
        if display is not None:
            body["display"] = display
        policy = {
            "reviewers": reviewers,
            "requestedBy": requested_by,
            "approvals": approvals,
            "remind": remind,
            "escalate": escalate,
        }
        body.update({key: value for key, value in policy.items() if value is not None})
        data = self._request("POST", "/waitpoints/tokens", json=body)
        return CreatedToken(
            id=data["id"],
            url=data["url"],
            is_cached=data["isCached"],
            public_access_token=data["publicAccessToken"],
        )

    def review_token(
        self,
        token: str | CreatedToken | Token,
        *,
        reviewer: str,
        choice: str | list[str],
        comment: str = "",
    ) -> dict[str, Any]:
        """Record `reviewer`'s vote (README, "Who decides"); the token as the API shows it."""
        body = {"reviewer": reviewer, "choice": choice, "comment": comment}
        return self._request("POST", f"/waitpoints/tokens/{_id(token)}/reviews", json=body)

    def complete_token(self, token: str | CreatedToken | Token, data: Any = None) -> bool:
        """Complete a token. True once accepted: the API answers `{success: true}` also when
        the token was already finished (then nothing changed; retrieve it to see the outcome)."""
        body = self._request(
            "POST", f"/waitpoints/tokens/{_id(token)}/complete", json={"data": data}
        )
        return bool(body.get("success"))

    def fail_token(self, token: str | CreatedToken | Token, error: dict[str, Any]) -> bool:
        """Fail a token with `{"message", "name"?, "data"?}`; True once accepted (also when it
        was already finished: then nothing changed)."""
        body = self._request("POST", f"/waitpoints/tokens/{_id(token)}/fail", json={"error": error})
        return bool(body.get("success"))

    def extend_token(self, token: str | CreatedToken | Token, timeout: str | datetime) -> Token:
        """Move a waiting token's deadline later; ApiError 409 (already_finished) once done."""
        body = self._request(
            "POST",
            f"/waitpoints/tokens/{_id(token)}/extend",
            json={"timeout": _date_param(timeout)},
        )
        return Token.from_json(body)

    def retrieve_token(self, token: str | CreatedToken | Token) -> Token:
        return Token.from_json(self._request("GET", f"/waitpoints/tokens/{_id(token)}"))

    def list_tokens(
        self,
        *,
        status: str | list[str] | None = None,
        tags: str | list[str] | None = None,
        period: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        idempotency_key: str | None = None,
        page_size: int = 100,
    ) -> Iterator[Token]:
        """Every matching token, newest first; the next page is fetched as you iterate."""
        after = None
        while True:
            page = self.list_tokens_page(
                status=status,
                tags=tags,
                period=period,
                from_=from_,
                to=to,
                idempotency_key=idempotency_key,
                page_size=page_size,
                after=after,
            )
            yield from page.tokens
            if page.next_cursor is None:
                return
            after = page.next_cursor

    def list_tokens_page(
        self,
        *,
        status: str | list[str] | None = None,
        tags: str | list[str] | None = None,
        period: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        idempotency_key: str | None = None,
        page_size: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> TokenPage:
        """One page, with the cursors to move forward (`after=`) or back (`before=`)."""
        params: dict[str, str] = {}
        if status is not None:
            params["filter[status]"] = _comma_list(status)
        if tags is not None:
            params["filter[tags]"] = _comma_list(tags)
        if period is not None:
            params["filter[createdAt][period]"] = period
        if from_ is not None:
            params["filter[createdAt][from]"] = _date_param(from_)
        if to is not None:
            params["filter[createdAt][to]"] = _date_param(to)
        if idempotency_key is not None:
            params["filter[idempotencyKey]"] = idempotency_key
        if page_size is not None:
            params["page[size]"] = str(page_size)
        if after is not None:
            params["page[after]"] = after
        if before is not None:
            params["page[before]"] = before
        body = self._request("GET", "/waitpoints/tokens", params=params)
        pagination = body.get("pagination") or {}
        return TokenPage(
            tokens=[Token.from_json(item) for item in body["data"]],
            next_cursor=pagination.get("next"),
            previous_cursor=pagination.get("previous"),
        )

    # --- plumbing --------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(
            method,
            f"{self.base_url}/api/v1{path}",
            headers=self._headers,
            timeout=self.timeout,
            **kwargs,
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            raise _error_from(response, body)
        return body


def _id(token: str | CreatedToken | Token) -> str:
    token_id = token if isinstance(token, str) else token.id
    # Ids are url-safe; quoting keeps anything else from changing the path.
    return quote(token_id, safe="")


def _error_from(response: requests.Response, body: Any) -> ApiError:
    request_id = response.headers.get("X-Request-ID")
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        details = body.get("details") if isinstance(body.get("details"), dict) else {}
        code = body.get("code") if isinstance(body.get("code"), str) else None
        return ApiError(response.status_code, body["error"], details, request_id, code)
    text = response.text.strip()[:200] or response.reason or "no response body"
    if response.status_code < 400:
        text = f"unexpected response (not a JSON object): {text}"
    return ApiError(response.status_code, text, {}, request_id)
