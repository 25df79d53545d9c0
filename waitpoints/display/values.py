"""Formatting one context value: numbers, money, dates, links (no locale data: one readable
English form, with the ISO value kept for `<time datetime>`)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.utils.dateparse import parse_date, parse_datetime

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥"}
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "CLP", "ISK", "VND", "XOF", "XAF"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
ACRONYMS = {"url": "URL", "id": "ID", "api": "API", "ip": "IP", "sku": "SKU", "pr": "PR"}


def label_from_key(key: str) -> str:
    """`refund_amount`, `refundAmount`, `refund-amount` → "Refund amount"."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").replace("-", " ")
    words = [ACRONYMS.get(word.lower(), word) for word in words.split()]
    if not words:
        return key
    first = words[0] if words[0].isupper() else words[0].capitalize()
    rest = [word if word.isupper() else word.lower() for word in words[1:]]
    return " ".join([first, *rest])


def format_number(value: int | float | Decimal) -> str:
    """1299.0 → "1,299"; 0.125 → "0.125"; 1234567 → "1,234,567"."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    text = f"{Decimal(str(value)):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def format_money(value: Any, currency: str) -> str | None:
    """(1299.0, "EUR") → "€1,299.00"; (5, "CHF") → "5.00 CHF"; None when not a number."""
    amount = as_decimal(value)
    if amount is None:
        return None
    places = 0 if currency in ZERO_DECIMAL_CURRENCIES else 2
    sign = "-" if amount < 0 else ""
    digits = f"{abs(amount):,.{places}f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


def parse_moment(value: Any) -> datetime | date | None:
    """An ISO 8601 date or date-time string, else None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        if _ISO_DATETIME.match(value):
            return parse_datetime(value)
        if _ISO_DATE.fullmatch(value):
            return parse_date(value)
    except ValueError:
        return None
    return None


def format_moment(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        stamp = f"{moment:%Y-%m-%d %H:%M}"
        if moment.utcoffset() is not None:
            offset = moment.utcoffset()
            stamp += " UTC" if not offset else f" {moment:%z}"
        return stamp
    return f"{moment:%Y-%m-%d}"


def is_link(value: Any, *, schemes: tuple[str, ...] = ("http", "https")) -> bool:
    """An absolute URL with one of `schemes` and no whitespace (the only ones made clickable)."""
    if not isinstance(value, str) or len(value) > 2048 or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if parts.scheme.lower() == "mailto":
        return "mailto" in schemes and bool(parts.path)
    return parts.scheme.lower() in schemes and bool(parts.netloc)


def short_link(url: str, *, limit: int = 60) -> str:
    """A URL without its scheme, shortened for previews."""
    text = url.split("://", 1)[-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"
