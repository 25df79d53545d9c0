"""The supported subset of JSON Schema (draft 2020-12) for a token's form, and checking values.

The `jsonschema` package does the validating; this module only refuses, at create, every keyword
outside the subset the dashboard can render as a form (docs/architecture.md, "Decisions").
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from waitpoints.errors import InvalidInput

MAX_FIELDS = 30
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
FORMATS = ("date", "date-time", "email", "uri")

_ROOT_KEYWORDS = {"$schema", "type", "properties", "required", "title", "description"}
_ROOT_KEYWORDS |= {"additionalProperties"}
_COMMON_KEYWORDS = {"type", "title", "description", "default"}
_KEYWORDS_BY_TYPE = {
    "string": _COMMON_KEYWORDS | {"maxLength", "pattern", "format", "enum"},
    "number": _COMMON_KEYWORDS | {"minimum", "maximum"},
    "integer": _COMMON_KEYWORDS | {"minimum", "maximum"},
    "boolean": _COMMON_KEYWORDS,
    "array": _COMMON_KEYWORDS | {"items"},
}
_ITEMS_KEYWORDS = {"type", "enum"}

# jsonschema checks "date-time" and "uri" only with optional packages; these two rules are ours.
format_checker = FormatChecker(formats=("date", "email"))


@format_checker.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value.upper() or value[-1:] not in "Zz0123456789":
        return False
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).tzinfo is not None


@format_checker.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme)) and " " not in value


def clean_schema(schema: Any, *, field: str) -> dict[str, Any]:
    """A valid draft 2020-12 object schema within the subset; InvalidInput naming what is not."""
    if not isinstance(schema, dict):
        raise InvalidInput({field: "must be a JSON Schema object"})
    _refuse_unknown(schema, _ROOT_KEYWORDS, field)
    if schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        raise InvalidInput({f"{field}.$schema": f"only {DRAFT_2020_12} is supported"})
    if schema.get("type") != "object":
        raise InvalidInput({f"{field}.type": 'must be "object" (its properties are the fields)'})
    if not isinstance(schema.get("additionalProperties", False), bool):
        raise InvalidInput({f"{field}.additionalProperties": "must be true or false"})
    properties = schema.get("properties", {})
    if not isinstance(properties, dict) or not properties:
        raise InvalidInput({f"{field}.properties": "must be an object of at least one field"})
    if len(properties) > MAX_FIELDS:
        raise InvalidInput({f"{field}.properties": f"at most {MAX_FIELDS} fields"})
    for name, prop in properties.items():
        _check_property(prop, f"{field}.properties.{name}")
    required = schema.get("required", [])
    if not isinstance(required, list) or any(name not in properties for name in required):
        raise InvalidInput({f"{field}.required": "must list names of properties"})
    try:
        Draft202012Validator.check_schema(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    except SchemaError as error:
        where = ".".join(str(part) for part in error.path)
        raise InvalidInput({f"{field}.{where}" if where else field: error.message}) from None
    for name, prop in properties.items():
        if "default" in prop:
            problems = field_errors(
                {"type": "object", "properties": {name: prop}}, {name: prop["default"]}
            )
            if problems:
                raise InvalidInput({f"{field}.properties.{name}.default": problems[name]})
    return schema


def _check_property(prop: Any, where: str) -> None:
    if not isinstance(prop, dict):
        raise InvalidInput({where: "must be an object"})
    kind = prop.get("type")
    if kind not in _KEYWORDS_BY_TYPE:
        raise InvalidInput(
            {f"{where}.type": f"must be one of {', '.join(_KEYWORDS_BY_TYPE)} (got {kind!r})"}
        )
    _refuse_unknown(prop, _KEYWORDS_BY_TYPE[kind], where)
    if "format" in prop and prop["format"] not in FORMATS:
        raise InvalidInput({f"{where}.format": f"must be one of {', '.join(FORMATS)}"})
    if "pattern" in prop:
        try:
            re.compile(prop["pattern"])
        except (re.error, TypeError):
            raise InvalidInput({f"{where}.pattern": "is not a valid regular expression"}) from None
    if kind == "array":
        items = prop.get("items")
        if not isinstance(items, dict) or items.get("type") != "string" or "enum" not in items:
            raise InvalidInput({f"{where}.items": 'must be {"type": "string", "enum": [...]}'})
        _refuse_unknown(items, _ITEMS_KEYWORDS, f"{where}.items")


def _refuse_unknown(node: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(node) - allowed)
    if unknown:
        raise InvalidInput({f"{where}.{unknown[0]}": "is not a supported schema keyword"})


def field_errors(schema: dict[str, Any], fields: Any) -> dict[str, str]:
    """Each invalid field of `fields` and why ("" for an error of the whole object)."""
    validator = Draft202012Validator(schema, format_checker=format_checker)
    problems: dict[str, str] = {}
    for error in sorted(validator.iter_errors(fields), key=lambda error: list(error.path)):
        name = str(error.path[0]) if error.path else ""
        if error.validator == "required" and not error.path:
            missing = error.message.split("'")[1] if "'" in error.message else ""
            name, message = missing, "is required"
        else:
            message = error.message
        problems.setdefault(name, message)
    return problems
