"""Parsing a token's `response` at create, and checking every completion against it.

Stored form (the `response` column): `{"options": [...], "multiple": bool, "schema": {...}}`,
keys present only when given. A token without one has today's approve/reject choices and
accepts any completion data (docs/architecture.md, "Decisions").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from waitpoints.core.validation import clean_text, has_control_characters
from waitpoints.decisions.schema import clean_schema, field_errors
from waitpoints.errors import InvalidInput

MAX_OPTIONS = 10
MAX_VALUE_LENGTH = 64
MAX_LABEL_LENGTH = 100
STYLES = ("primary", "danger", "default")
APPROVED, REJECTED = "approved", "rejected"
FIELD_ORDER = "fieldOrder"  # stored beside the schema, never shown


class _NotGiven:
    """No `timeoutOutput` was given (None is a JSON null output)."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    style: str = "default"
    require_comment: bool = False


DEFAULT_OPTIONS = (
    Option(value=APPROVED, label="Approve", style="primary"),
    Option(value=REJECTED, label="Reject", style="danger"),
)


@dataclass(frozen=True)
class Contract:
    """What may be answered: the options (today's two by default), several or one, a form."""

    options: tuple[Option, ...] = DEFAULT_OPTIONS
    multiple: bool = False
    schema: dict[str, Any] | None = None
    declared: bool = False  # False: the token has no `response`, any completion data goes
    custom_options: bool = False

    def option(self, value: str) -> Option | None:
        return next((option for option in self.options if option.value == value), None)

    @property
    def has_required_fields(self) -> bool:
        return bool(self.schema and self.schema.get("required"))


def contract_of(response: dict[str, Any] | None) -> Contract:
    """The contract of a stored `response` (None: the default one)."""
    if not response:
        return Contract()
    options = tuple(
        Option(
            value=item["value"],
            label=item.get("label") or item["value"],
            style=item.get("style", "default"),
            require_comment=item.get("requireComment", False),
        )
        for item in response.get("options", ())
    )
    schema = response.get("schema")
    if schema is not None and FIELD_ORDER in response:
        properties = schema["properties"]
        schema = {
            **schema,
            "properties": {name: properties[name] for name in response[FIELD_ORDER]},
        }
    return Contract(
        options=options or DEFAULT_OPTIONS,
        multiple=response.get("multiple", False),
        schema=schema,
        declared=True,
        custom_options=bool(options),
    )


def clean_response(value: Any, *, field: str = "response") -> dict[str, Any] | None:
    """The `response` of a create, checked and in its stored form; InvalidInput naming the
    first bad part."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput({field: "must be an object with options, multiple and/or schema"})
    unknown = sorted(set(value) - {"options", "multiple", "schema"})
    if unknown:
        raise InvalidInput({f"{field}.{unknown[0]}": "is not a known field"})
    cleaned: dict[str, Any] = {}
    if "options" in value:
        cleaned["options"] = _clean_options(value["options"], field=f"{field}.options")
    if "multiple" in value:
        if not isinstance(value["multiple"], bool):
            raise InvalidInput({f"{field}.multiple": "must be true or false"})
        cleaned["multiple"] = value["multiple"]
    if "schema" in value:
        cleaned["schema"] = clean_schema(value["schema"], field=f"{field}.schema")
        # jsonb keeps an object's keys in its own order: the form's order is kept beside it.
        cleaned[FIELD_ORDER] = list(cleaned["schema"]["properties"])
    return cleaned


def declared(response: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored `response` as it was declared (what the API shows)."""
    if response is None:
        return None
    return {key: value for key, value in response.items() if key != FIELD_ORDER}


def _clean_options(options: Any, *, field: str) -> list[dict[str, Any]]:
    if not isinstance(options, list) or not 1 <= len(options) <= MAX_OPTIONS:
        raise InvalidInput({field: f"must be a list of 1-{MAX_OPTIONS} options"})
    cleaned: list[dict[str, Any]] = []
    for index, option in enumerate(options):
        where = f"{field}[{index}]"
        if not isinstance(option, dict):
            raise InvalidInput({where: 'must be an object like {"value": "ship"}'})
        unknown = sorted(set(option) - {"value", "label", "style", "requireComment"})
        if unknown:
            raise InvalidInput({f"{where}.{unknown[0]}": "is not a known field"})
        item = {"value": _clean_line(option.get("value"), f"{where}.value", MAX_VALUE_LENGTH)}
        if item["value"] in (existing["value"] for existing in cleaned):
            raise InvalidInput({f"{where}.value": f"{item['value']!r} is given twice"})
        if option.get("label") is not None:
            item["label"] = _clean_line(option["label"], f"{where}.label", MAX_LABEL_LENGTH)
        if option.get("style") is not None:
            if option["style"] not in STYLES:
                raise InvalidInput({f"{where}.style": f"must be one of {', '.join(STYLES)}"})
            item["style"] = option["style"]
        if option.get("requireComment") is not None:
            if not isinstance(option["requireComment"], bool):
                raise InvalidInput({f"{where}.requireComment": "must be true or false"})
            item["requireComment"] = option["requireComment"]
        cleaned.append(item)
    return cleaned


def _clean_line(value: Any, field: str, max_length: int) -> str:
    text = clean_text(value, field=field, max_length=max_length)
    if has_control_characters(text) or not text.strip():
        raise InvalidInput({field: "must be one line of visible text"})
    return text


def check_answer(contract: Contract, data: Any, *, field: str = "data") -> None:
    """Refuse (InvalidInput naming each bad part) completion data that breaks a declared
    contract: `choice` among the options (a list when `multiple`; required when the token
    declares options), a comment where the chosen option requires one, `fields` valid against
    the schema. A token without a `response` accepts anything."""
    if not contract.declared:
        return
    if not isinstance(data, dict):
        raise InvalidInput({field: 'must be an object like {"choice": ..., "fields": {...}}'})
    details: dict[str, str] = {}
    chosen = _check_choice(contract, data, field, details)
    if any(option.require_comment for option in chosen):
        comment = data.get("comment")
        if not isinstance(comment, str) or not comment.strip():
            labels = ", ".join(option.label for option in chosen if option.require_comment)
            details[_at(field, "comment")] = f"is required when choosing {labels}"
    fields = data.get("fields", {})
    if contract.schema is not None:
        if not isinstance(fields, dict):
            details[_at(field, "fields")] = "must be an object"
        else:
            for name, message in field_errors(contract.schema, fields).items():
                details[_at(field, f"fields.{name}" if name else "fields")] = message
    elif fields not in ({}, None):
        details[_at(field, "fields")] = "this token has no form: leave it out"
    if details:
        raise InvalidInput(details)


def _check_choice(
    contract: Contract, data: dict[str, Any], field: str, details: dict[str, str]
) -> list[Option]:
    where = _at(field, "choice")
    if "choice" not in data:
        if contract.custom_options:
            details[where] = "is required: one of " + ", ".join(
                option.value for option in contract.options
            )
        return []
    choice = data["choice"]
    values = choice if contract.multiple else [choice]
    if contract.multiple and (not isinstance(choice, list) or not choice):
        details[where] = "must be a non-empty list of option values"
        return []
    if len(set(map(repr, values))) != len(values):
        details[where] = "must not repeat a value"
        return []
    chosen: list[Option] = []
    for value in values:
        option = contract.option(value) if isinstance(value, str) else None
        if option is None:
            allowed = ", ".join(option.value for option in contract.options)
            details[where] = f"{value!r} is not an option (one of {allowed})"
            return []
        chosen.append(option)
    return chosen


def _at(field: str, name: str) -> str:
    return f"{field}.{name}" if field else name


def clean_timeout_output(
    value: Any, *, response: dict[str, Any] | None, field: str = "timeoutOutput"
) -> dict[str, Any] | None:
    """The stored form of a `timeoutOutput` (wrapped, so that a JSON null output is still an
    output; None when NOT_GIVEN), checked against the response contract like any completion."""
    if value is NOT_GIVEN:
        return None
    check_answer(contract_of(response), value, field=field)
    return {"value": value}


def person_decision(
    contract: Contract,
    *,
    choice: str | list[str],
    fields: dict[str, Any],
    comment: str,
    reviewer: str,
) -> dict[str, Any]:
    """The output of a person's decision (dashboard, email link), checked against the contract
    (InvalidInput keyed `choice`, `comment`, `fields.<name>`). Tokens with today's
    approve/reject choices keep the `approved`/`status` keys existing callers read."""
    output: dict[str, Any] = {
        "choice": choice,
        "fields": fields,
        "comment": comment,
        "reviewedBy": reviewer,
    }
    check_answer(replace(contract, declared=True, custom_options=True), output, field="")
    if not contract.custom_options and choice in (APPROVED, REJECTED):
        output = {"approved": choice == APPROVED, "status": choice, **output}
    return output
