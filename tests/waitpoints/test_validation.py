"""The shared input rules reject what PostgreSQL or the encoders would choke on, as 422s."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from waitpoints.core.durations import InvalidDuration, parse_duration, parse_moment, resolve_timeout
from waitpoints.core.validation import MAX_JSON_DEPTH, clean_json
from waitpoints.errors import InvalidInput


def nested(depth: int):
    value: object = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), {"a": -float("inf")}, "nul\x00", {"\x00": 1}, [{"x": "\x00"}],
     {1, 2}, object(), nested(MAX_JSON_DEPTH + 1), {"deep": nested(MAX_JSON_DEPTH)}],
)  # fmt: skip
def test_clean_json_refuses_what_jsonb_or_encoders_cannot_take(value):
    with pytest.raises(InvalidInput) as error:
        clean_json(value, field="data")
    assert set(error.value.details) == {"data"}


@pytest.mark.parametrize(
    "value",
    [None, 0, 10**400, -1.5e308, "ü\u2028", {"k": [1, {"n": None}]}, nested(MAX_JSON_DEPTH)],
)
def test_clean_json_keeps_valid_json(value):
    assert clean_json(value, field="data") == value


@pytest.mark.parametrize("value", ["1" * 5000 + "s", "99999999999999w", "0s", "1y", "", " "])
def test_parse_duration_refuses_out_of_range_and_garbage(value):
    with pytest.raises(InvalidDuration):
        parse_duration(value)


@pytest.mark.parametrize("value", ["999999999999999", "9999-12-31T23:59:59-23:59", "nope"])
def test_parse_moment_refuses_dates_out_of_range(value):
    with pytest.raises(InvalidDuration):
        parse_moment(value)


def test_dates_are_normalised_to_utc():
    assert parse_moment("2030-01-01T00:00:00+02:00") == datetime(2029, 12, 31, 22, tzinfo=UTC)
    assert parse_moment("2030-01-01T00:00:00+02:00").tzinfo is UTC
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert resolve_timeout("2030-01-01T00:00:00-23:59", now=now).utcoffset().total_seconds() == 0
    far_offset = timezone(-timedelta(hours=23, minutes=59))
    moment = resolve_timeout(datetime(2030, 1, 1, tzinfo=far_offset), now=now)
    assert moment == datetime(2030, 1, 1, 23, 59, tzinfo=UTC) and moment.tzinfo is UTC
