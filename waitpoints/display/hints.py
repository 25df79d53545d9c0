"""Display hints: a token's `display` object maps context keys (dotted paths for nested ones)
to formats, validated when the token is created (README, "Readable context")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from waitpoints.core.validation import has_control_characters
from waitpoints.errors import InvalidInput

FORMATS = ("text", "markdown", "link", "date", "datetime", "number", "money", "json", "hidden")
MAX_HINTS = 100
MAX_PATH_LENGTH = 200
CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Hint:
    format: str
    currency: str = ""  # ISO 4217, for money only


def parse_hint(spec: str) -> Hint:
    """`"money:EUR"` → Hint("money", "EUR"); ValueError with the reason for a bad spec."""
    name, _, argument = spec.partition(":")
    if name not in FORMATS:
        raise ValueError(f"unknown format {spec!r}; use one of {', '.join(FORMATS)} (money:EUR)")
    if name == "money":
        if not CURRENCY.fullmatch(argument):
            raise ValueError(f"money needs a currency code, as in 'money:EUR' (got {spec!r})")
        return Hint(name, argument)
    if argument:
        raise ValueError(f"format {name!r} takes no argument (got {spec!r})")
    return Hint(name)


def clean_display(value: Any, *, field: str = "display") -> dict[str, str] | None:
    """The hints as given, or InvalidInput naming each bad entry (`display.amount`)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput({field: "must be an object mapping context keys to formats"})
    if len(value) > MAX_HINTS:
        raise InvalidInput({field: f"must have at most {MAX_HINTS} entries (got {len(value)})"})
    details: dict[str, str] = {}
    for path, spec in value.items():
        name = f"{field}.{path}"[: MAX_PATH_LENGTH + len(field) + 1]
        problem = _path_problem(path)
        if problem is None and not isinstance(spec, str):
            problem = "must be a format string, such as 'markdown' or 'money:EUR'"
        if problem is None:
            try:
                parse_hint(spec)
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            details[name] = problem
    if details:
        raise InvalidInput(details)
    return value


def _path_problem(path: str) -> str | None:
    if not path or len(path) > MAX_PATH_LENGTH:
        return f"a context key path must be 1-{MAX_PATH_LENGTH} characters"
    if has_control_characters(path) or not all(path.split(".")):
        return "a context key path is keys joined by '.', with no empty key or control character"
    return None


def hint_for(display: dict[str, str] | None, path: tuple[str, ...]) -> Hint | None:
    """The hint of a value at `path`: its exact dotted path, else with list indexes as `*`."""
    if not display:
        return None
    spec = display.get(".".join(path))
    if spec is None:
        spec = display.get(".".join("*" if part.isdigit() else part for part in path))
    if spec is None:
        return None
    try:
        return parse_hint(spec)
    except ValueError:  # stored before a format was retired: shown by default rules
        return None
