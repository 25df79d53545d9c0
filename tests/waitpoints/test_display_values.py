"""Formatting single context values (waitpoints.display.values and .context), without Django's
database: labels, numbers, money, dates, links, and what a preview picks."""

import pytest

from waitpoints.display.context import context_fields, context_preview, context_text
from waitpoints.display.values import format_money, format_number, label_from_key


@pytest.mark.parametrize(
    ("key", "label"),
    [("refund_amount", "Refund amount"), ("refundAmount", "Refund amount"), ("order-url", "Order URL"),
     ("userId", "User ID"), ("SKU", "SKU"), ("x", "X")],
)  # fmt: skip
def test_labels_from_keys(key, label):
    assert label_from_key(key) == label


@pytest.mark.parametrize(
    ("value", "text"),
    [(1299.0, "1,299"), (1234567, "1,234,567"), (0.125, "0.125"), (-2.5, "-2.5"), (1e20, "100,000,000,000,000,000,000")],
)  # fmt: skip
def test_numbers(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [(1299.0, "EUR", "€1,299.00"), ("5", "CHF", "5.00 CHF"), (-3.456, "USD", "-$3.46"),
     (1500, "JPY", "¥1,500"), ("abc", "EUR", None), (True, "EUR", None), ("NaN", "EUR", None)],
)  # fmt: skip
def test_money(value, currency, text):
    assert format_money(value, currency) == text


def test_money_hint_on_a_non_number_falls_back_to_text():
    (field,) = context_fields({"amount": "about twelve"}, {"amount": "money:EUR"})
    assert (field.kind, field.text) == ("text", "about twelve")


def test_kinds_without_hints():
    fields = {
        f.path: f.kind
        for f in context_fields(
            {"a": "https://x.org", "b": "mailto:a@b.c", "c": "2026-01-02", "d": "2026-01-02T03:04:05Z",
             "e": "2026-01-02 is a date", "f": True, "g": None, "h": [], "i": "javascript:alert(1)"}
        )
    }  # fmt: skip
    assert fields == {
        "a": "link", "b": "text", "c": "date", "d": "datetime", "e": "text", "f": "boolean",
        "g": "empty", "h": "list", "i": "text",
    }  # fmt: skip


def test_a_context_that_is_not_an_object_is_one_field():
    assert [(f.label, f.text) for f in context_fields("just text")] == [("Value", "just text")]
    assert context_fields(None) == []


def test_preview_takes_first_text_two_amounts_and_first_link():
    context = {
        "id": 7,
        "body": "Hello  **there**\nsecond line",
        "price": 3,
        "total": 4,
        "fee": 5,
        "site": "https://a.example/x",
        "more": "https://b.example",
    }
    preview = context_preview(context, {"body": "markdown"})
    assert [(p.kind, p.text) for p in preview] == [
        ("text", "Hello there second line"),
        ("number", "3"),
        ("number", "4"),
        ("link", "a.example/x"),
    ]


def test_huge_contexts_are_shown_in_part():
    fields = context_fields({f"k{n}": n for n in range(1000)})
    assert len(fields) == 300


def test_plain_text_indents_nested_fields():
    text = context_text({"customer": {"name": "Ann", "tags": ["a"]}, "note": "one\ntwo"})
    assert text == "Customer:\n  Name: Ann\n  Tags:\n    #1: a\nNote:\n  one\n  two"
