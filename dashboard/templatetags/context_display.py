"""Template filters for a token's readable context and its audit trail; the formatting itself
lives in `waitpoints.display` (the approval emails use it too)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template

from waitpoints.display.audit import AuditLine, audit_line
from waitpoints.display.context import Field, PreviewItem, context_fields, context_preview
from waitpoints.models import Waitpoint

register = template.Library()


@register.filter
def readable_context(token: Waitpoint) -> list[Field]:
    return context_fields(token.context, token.display)


@register.filter
def preview_of_context(token: Waitpoint) -> list[PreviewItem]:
    return context_preview(token.context, token.display)


@register.filter
def audit_sentences(events: Iterable[Any]) -> list[AuditLine]:
    return [audit_line(event) for event in events]
