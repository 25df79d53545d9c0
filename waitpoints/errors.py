"""Domain errors raised by services and selectors; the API maps each to one HTTP status."""


class WaitpointsError(Exception):
    """Base class of every domain error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(WaitpointsError):
    """A value that is present but invalid (HTTP 422). `details` names each bad field."""

    def __init__(self, details: dict[str, str], message: str | None = None) -> None:
        self.details = details
        super().__init__(
            message or "; ".join(f"{field}: {text}" for field, text in details.items())
        )


class NotFound(WaitpointsError):
    """Unknown id, or an id of another environment (HTTP 404: no existence leak)."""


class WaitpointTimeoutError(WaitpointsError):
    """Raised by `WaitResult.unwrap()` when the awaited waitpoint timed out."""
