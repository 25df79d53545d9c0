"""Durations like `30s`, `1h30m`, `4w`, and timeouts that may also be ISO 8601 dates."""

import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from waitpoints.errors import InvalidInput

_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(r"^(?:\d+[wdhms])+$")
_PART_RE = re.compile(r"(\d+)([wdhms])")
# Far enough to be "never" for a person, near enough to stay a valid datetime.
MAX_DURATION = timedelta(days=3650)


class InvalidDuration(InvalidInput):
    """A duration or date that cannot be used: an `InvalidInput` naming the caller's field."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__({field: reason})


def parse_duration(value: str, *, field: str = "duration") -> timedelta:
    """`1h30m` -> timedelta(hours=1, minutes=30). Raises InvalidDuration naming `field`."""
    if not isinstance(value, str) or not _DURATION_RE.match(value.strip()):
        raise InvalidDuration(
            f"{value!r} is not a duration: use <number><unit> parts with units w, d, h, m, s "
            "(e.g. 30s, 1h30m, 4w)",
            field,
        )
    try:
        seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART_RE.findall(value.strip()))
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        raise InvalidDuration(
            f"{value[:40]!r}… is longer than the maximum of 3650 days", field
        ) from None
    if seconds <= 0:
        raise InvalidDuration(f"{value!r} must be longer than zero", field)
    if seconds > MAX_DURATION.total_seconds():
        raise InvalidDuration(f"{value!r} is longer than the maximum of 3650 days", field)
    return timedelta(seconds=seconds)


def parse_datetime_value(value: str, *, field: str = "date") -> datetime:
    """An ISO 8601 date or datetime (UTC when no offset is given). Raises InvalidDuration."""
    parsed = None
    try:
        parsed = parse_datetime(value)
        if parsed is None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidDuration(f"{value!r} is not an ISO 8601 date", field)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    try:
        # PostgreSQL refuses offsets beyond ±15:59 that Python accepts: store UTC only.
        return parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidDuration(f"{value!r} is out of the range of dates", field) from None


def resolve_timeout(value: str | datetime, *, now: datetime, field: str = "timeout") -> datetime:
    """A duration from now, or an absolute date; past dates are refused."""
    if isinstance(value, datetime):
        moment = value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            raise InvalidDuration(f"{value} is out of the range of dates", field) from None
    elif isinstance(value, str) and _DURATION_RE.match(value.strip()):
        return now + parse_duration(value, field=field)
    elif isinstance(value, str):
        try:
            moment = parse_datetime_value(value.strip(), field=field)
        except InvalidDuration:
            raise InvalidDuration(
                f"{value!r} is neither a duration (e.g. 30s, 1h30m, 4w) nor an ISO 8601 date",
                field,
            ) from None
    else:
        raise InvalidDuration("must be a duration string (e.g. 1h) or an ISO 8601 date", field)
    if moment <= now:
        raise InvalidDuration(f"{value} is in the past", field)
    if moment - now > MAX_DURATION:
        raise InvalidDuration(f"{value} is more than 3650 days away", field)
    return moment


def parse_moment(value: str, *, field: str = "date") -> datetime:
    """Epoch milliseconds or an ISO 8601 date (the list filters' `from`/`to`)."""
    text = value.strip()
    if re.fullmatch(r"\d{1,15}", text):
        try:
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise InvalidDuration(f"{value!r} is out of the range of dates", field) from None
    try:
        return parse_datetime_value(text, field=field)
    except InvalidDuration:
        raise InvalidDuration(
            f"{value!r} is neither epoch milliseconds nor an ISO 8601 date", field
        ) from None
