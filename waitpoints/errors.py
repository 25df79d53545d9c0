"""Domain errors raised by services and selectors, and the stable error codes of the API.

Every error body the API sends is `{"error": message, "code": ErrorCode, "details"?: {...}}`;
each code is answered with exactly one HTTP status (`ErrorCode.status`).
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    """The machine-readable `code` of an error body. Values are stable: clients match on them."""

    MALFORMED_JSON = "malformed_json"
    INVALID_APPROVAL_LINK = "invalid_approval_link"  # the dashboard's emailed links
    AUTHENTICATION_REQUIRED = "authentication_required"
    MALFORMED_AUTHORIZATION = "malformed_authorization"
    INVALID_API_KEY = "invalid_api_key"
    API_KEY_REVOKED = "api_key_revoked"
    INVALID_PUBLIC_ACCESS_TOKEN = "invalid_public_access_token"
    PUBLIC_ACCESS_TOKEN_EXPIRED = "public_access_token_expired"
    INVALID_CALLBACK_HASH = "invalid_callback_hash"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    ENDPOINT_NOT_FOUND = "endpoint_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    APPROVAL_LINK_EXPIRED = "approval_link_expired"  # the dashboard's emailed links
    LENGTH_REQUIRED = "length_required"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    ALREADY_FINISHED = "already_finished"
    ALREADY_VOTED = "already_voted"
    NOT_A_REVIEWER = "not_a_reviewer"
    INVALID_INPUT = "invalid_input"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    DATABASE_UNAVAILABLE = "database_unavailable"

    @property
    def status(self) -> int:
        return _STATUSES[self]

    @classmethod
    def for_status(cls, status: int) -> "ErrorCode":
        """The generic code of a status (for errors raised without a code of their own)."""
        return _GENERIC.get(status, cls.INTERNAL_ERROR)


_STATUSES = {
    ErrorCode.MALFORMED_JSON: 400,
    ErrorCode.INVALID_APPROVAL_LINK: 400,
    ErrorCode.AUTHENTICATION_REQUIRED: 401,
    ErrorCode.MALFORMED_AUTHORIZATION: 401,
    ErrorCode.INVALID_API_KEY: 401,
    ErrorCode.API_KEY_REVOKED: 401,
    ErrorCode.INVALID_PUBLIC_ACCESS_TOKEN: 401,
    ErrorCode.PUBLIC_ACCESS_TOKEN_EXPIRED: 401,
    ErrorCode.INVALID_CALLBACK_HASH: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ENDPOINT_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.NOT_ACCEPTABLE: 406,
    ErrorCode.APPROVAL_LINK_EXPIRED: 410,
    ErrorCode.LENGTH_REQUIRED: 411,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.ALREADY_FINISHED: 409,
    ErrorCode.ALREADY_VOTED: 409,
    ErrorCode.NOT_A_REVIEWER: 403,
    ErrorCode.INVALID_INPUT: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.DATABASE_UNAVAILABLE: 503,
}
_GENERIC = {
    400: ErrorCode.MALFORMED_JSON,
    401: ErrorCode.AUTHENTICATION_REQUIRED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    406: ErrorCode.NOT_ACCEPTABLE,
    411: ErrorCode.LENGTH_REQUIRED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    422: ErrorCode.INVALID_INPUT,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.DATABASE_UNAVAILABLE,
}


class WaitpointsError(Exception):
    """Base class of every domain error. `code` says how the API answers it.

    An error whose code is a 5xx is a bug or an outage, not an answer: the API lets it become
    the logged 500.
    """

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(WaitpointsError):
    """A value that is present but invalid (HTTP 422). `details` names each bad field."""

    code = ErrorCode.INVALID_INPUT

    def __init__(self, details: dict[str, str], message: str | None = None) -> None:
        self.details = details
        super().__init__(
            message or "; ".join(f"{field}: {text}" for field, text in details.items())
        )


class NotFound(WaitpointsError):
    """Unknown id, or an id of another environment (HTTP 404: no existence leak)."""

    code = ErrorCode.NOT_FOUND


class AlreadyFinished(WaitpointsError):
    """The token is no longer WAITING, and the operation only applies to a waiting one (409)."""

    code = ErrorCode.ALREADY_FINISHED


class AlreadyVoted(WaitpointsError):
    """This person already voted on the token: a person votes once (409)."""

    code = ErrorCode.ALREADY_VOTED


class NotAReviewer(WaitpointsError):
    """This person may not decide the token: not assigned, or its requester (403)."""

    code = ErrorCode.NOT_A_REVIEWER


class WaitpointTimeoutError(WaitpointsError):
    """Raised by `WaitResult.unwrap()` when the awaited waitpoint timed out."""


class WaitpointFailedError(WaitpointsError):
    """Raised by `WaitResult.unwrap()` when the awaited token was failed (its `fail` endpoint,
    `wait.fail_token`); `name`, `output` (the error object) and `data` say how."""
