"""Template helpers for a token's response contract (options' buttons, the contract summary)."""

from __future__ import annotations

from django import template

from waitpoints.decisions.contract import Option

register = template.Library()

# The dashboard's existing button colours: primary is the approve green, danger the reject red.
OPTION_CLASSES = {"primary": "btn-approve", "danger": "btn-reject", "default": ""}


@register.filter
def option_class(option: Option) -> str:
    return OPTION_CLASSES.get(option.style, "")
