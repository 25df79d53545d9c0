"""Input rules shared by every way in (API, SDK, dashboard): one place per rule."""

import json
import re
import unicodedata
from typing import Any

from waitpoints.errors import InvalidInput

MAX_TAGS = 10
MAX_TAG_LENGTH = 127
MAX_IDEMPOTENCY_KEY_LENGTH = 2048
MAX_TITLE_LENGTH = 200
# Deeper documents crash json encoders further down the stack (psycopg, the renderer) with
# RecursionError, which would be a 500; no real payload comes near this.
MAX_JSON_DEPTH = 200


# The one rule for environment slugs (`dev`, `eu-prod`): the slug is the `sub` of public access
# tokens and part of every API key, so no dots, slashes or spaces.
ENVIRONMENT_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def clean_environment_slug(value: Any, *, field: str = "environment") -> str:
    if not isinstance(value, str) or not ENVIRONMENT_SLUG.fullmatch(value):
        raise InvalidInput(
            {
                field: "must be 1-64 letters, digits, '-' or '_', starting with a letter or digit"
                f" (got {value!r})"
            }
        )
    return value


def has_control_characters(text: str) -> bool:
    """C0/C1 controls (CR, LF, NUL, …) and Unicode line/paragraph separators."""
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


def clean_text(value: Any, *, field: str, max_length: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInput({field: "must be a string"})
    if "\x00" in value:
        raise InvalidInput({field: "must not contain NUL characters"})
    if not _is_encodable(value):
        raise InvalidInput({field: UNPAIRED_SURROGATE})
    if not value and not allow_empty:
        raise InvalidInput({field: "must not be empty"})
    if len(value) > max_length:
        raise InvalidInput({field: f"must be at most {max_length} characters (got {len(value)})"})
    return value


# JSON may spell a lone UTF-16 surrogate ("\ud800"); Python decodes it, but it is no character:
# it cannot be encoded as UTF-8, so PostgreSQL (via psycopg) would fail with a 500.
UNPAIRED_SURROGATE = "must not contain unpaired surrogate escapes (\\ud800-\\udfff)"


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_tags(value: Any, *, field: str = "tags") -> list[str]:
    """A tag or a list of tags -> a de-duplicated list, order kept."""
    if value is None:
        return []
    tags = [value] if isinstance(value, str) else value
    if not isinstance(tags, list | tuple):
        raise InvalidInput({field: "must be a string or a list of strings"})
    cleaned: list[str] = []
    for tag in tags:
        tag = clean_text(tag, field=field, max_length=MAX_TAG_LENGTH)
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput({field: f"at most {MAX_TAGS} tags (got {len(cleaned)})"})
    return cleaned


def _json_depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def clean_json(value: Any, *, field: str) -> Any:
    """Anything PostgreSQL's jsonb can store: finite numbers, no NUL characters, sane nesting."""
    if _json_depth_exceeds(value, MAX_JSON_DEPTH):
        raise InvalidInput({field: f"is nested deeper than {MAX_JSON_DEPTH} levels"})
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput({field: f"must be JSON-serialisable ({exc})"}) from None
    except RecursionError:
        raise InvalidInput({field: "is nested too deeply"}) from None
    if "\\u0000" in encoded:
        raise InvalidInput({field: "must not contain NUL characters"})
    if "\\ud" in encoded and not _is_encodable(json.dumps(value, ensure_ascii=False)):
        raise InvalidInput({field: UNPAIRED_SURROGATE})
    return value
