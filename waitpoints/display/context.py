"""A token's context as labelled, formatted fields: `context_fields` for the detail page and the
emails, `context_preview` for an inbox row, `context_text` for plain-text emails.

Without a hint a value is shown by what it is: http(s) URLs as links, ISO dates as dates, numbers
with separators (1299.0 as "1,299"), objects and lists as nested fields, other strings as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from waitpoints.display import values
from waitpoints.display.hints import Hint, hint_for
from waitpoints.display.markdown import markdown_html, markdown_plain

MAX_DEPTH = 6  # deeper values are shown as JSON
MAX_FIELDS = 300  # a huge context is shown in part; the raw JSON is one click away
AMOUNT_WORDS = ("amount", "price", "total", "cost", "fee", "sum", "balance", "refund")


@dataclass
class Field:
    """One value. `kind` says how to show it: text, markdown, link, email, date, datetime, number,
    money, boolean, empty, json, object or list (those two have `children`)."""

    label: str
    path: str
    kind: str
    text: str = ""  # the formatted value (for a link: its URL)
    html: SafeString | None = None  # markdown only: sanitized HTML
    iso: str = ""  # date and datetime: the ISO value for <time datetime>
    children: list[Field] = field(default_factory=list)


def context_fields(context: Any, display: dict[str, str] | None = None) -> list[Field]:
    """The top-level fields of `context` (an object: its keys; any other value: one field)."""
    budget = [MAX_FIELDS]
    if isinstance(context, dict):
        return _children(context, (), display, budget)
    if context is None:
        return []
    return [_field("Value", ("value",), context, display, budget)]


def _children(
    value: dict | list, path: tuple[str, ...], display: dict | None, budget: list[int]
) -> list[Field]:
    items = value.items() if isinstance(value, dict) else enumerate(value)
    fields = []
    for key, item in items:
        if budget[0] <= 0:
            break
        child_path = (*path, str(key))
        hint = hint_for(display, child_path)
        if hint is not None and hint.format == "hidden":
            continue
        label = values.label_from_key(key) if isinstance(value, dict) else f"#{key + 1}"
        fields.append(_field(label, child_path, item, display, budget, hint=hint))
    return fields


def _field(
    label: str,
    path: tuple[str, ...],
    value: Any,
    display: dict | None,
    budget: list[int],
    *,
    hint: Hint | None = None,
) -> Field:
    budget[0] -= 1
    made = Field(label=label, path=".".join(path), kind="text")
    wanted = hint.format if hint is not None else None
    if wanted is None and isinstance(value, dict | list) and len(path) < MAX_DEPTH:
        made.kind = "object" if isinstance(value, dict) else "list"
        made.children = _children(value, path, display, budget)
        return made
    if value is None:
        made.kind, made.text = "empty", "—"
    elif wanted == "json" or isinstance(value, dict | list):
        made.kind, made.text = "json", json.dumps(value, indent=2, ensure_ascii=False)
    elif wanted == "money" and (money := values.format_money(value, hint.currency)):
        made.kind, made.text = "money", money
    elif isinstance(value, bool):
        made.kind, made.text = "boolean", "Yes" if value else "No"
    elif wanted in (None, "number", "money") and isinstance(value, int | float):
        made.kind, made.text = "number", values.format_number(value)
    elif wanted == "number" and (number := values.as_decimal(value)) is not None:
        made.kind, made.text = "number", values.format_number(number)
    else:
        _string_field(made, value if isinstance(value, str) else json.dumps(value), wanted)
    return made


def _string_field(made: Field, text: str, wanted: str | None) -> None:
    made.text = text
    if wanted == "markdown":
        made.kind, made.html = "markdown", mark_safe(markdown_html(text))  # sanitized by nh3
    elif wanted in (None, "link") and values.is_link(text, schemes=_link_schemes(wanted)):
        made.kind = "link"
    elif wanted in (None, "date", "datetime") and (moment := values.parse_moment(text)):
        made.kind = "datetime" if hasattr(moment, "hour") else "date"
        made.text, made.iso = values.format_moment(moment), moment.isoformat()


def _link_schemes(wanted: str | None) -> tuple[str, ...]:
    # mailto: only when the creator asked for a link (a bare "mailto:" string stays text).
    return ("http", "https", "mailto") if wanted == "link" else ("http", "https")


# --- Previews and plain text ---------------------------------------------------------------------


@dataclass
class PreviewItem:
    label: str
    kind: str  # text, money, number, link
    text: str
    url: str = ""


def context_preview(
    context: Any, display: dict[str, str] | None = None, *, text_limit: int = 140
) -> list[PreviewItem]:
    """A row's glimpse of the context: the first text, up to two amounts, the first link."""
    text, amounts, link = None, [], None
    for leaf in _leaves(context_fields(context, display)):
        if text is None and leaf.kind in ("text", "markdown") and leaf.text.strip():
            words = markdown_plain(leaf.text) if leaf.kind == "markdown" else leaf.text
            words = " ".join(words.split())
            if len(words) > text_limit:
                words = words[: text_limit - 1].rstrip() + "…"
            text = PreviewItem(leaf.label, "text", words)
        elif leaf.kind == "money" or (leaf.kind == "number" and _looks_like_amount(leaf.path)):
            if len(amounts) < 2:
                amounts.append(PreviewItem(leaf.label, leaf.kind, leaf.text))
        elif link is None and leaf.kind == "link" and not leaf.text.startswith("mailto:"):
            link = PreviewItem(leaf.label, "link", values.short_link(leaf.text), url=leaf.text)
    return [item for item in (text, *amounts, link) if item is not None]


def _looks_like_amount(path: str) -> bool:
    key = path.rsplit(".", 1)[-1].lower()
    return any(word in key for word in AMOUNT_WORDS)


def _leaves(fields: list[Field]):
    for item in fields:
        if item.children or item.kind in ("object", "list"):
            yield from _leaves(item.children)
        else:
            yield item


def context_text(context: Any, display: dict[str, str] | None = None) -> str:
    """The fields as indented "Label: value" lines, for plain-text emails."""
    lines: list[str] = []
    _text_lines(context_fields(context, display), 0, lines)
    return "\n".join(lines)


def _text_lines(fields: list[Field], depth: int, lines: list[str]) -> None:
    indent = "  " * depth
    for item in fields:
        if item.kind in ("object", "list"):
            lines.append(f"{indent}{item.label}:" + ("" if item.children else " (empty)"))
            _text_lines(item.children, depth + 1, lines)
        elif "\n" in item.text:
            lines.append(f"{indent}{item.label}:")
            lines.extend(f"{indent}  {line}" for line in item.text.splitlines())
        else:
            lines.append(f"{indent}{item.label}: {item.text}")
