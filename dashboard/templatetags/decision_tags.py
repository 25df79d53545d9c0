"""Template helpers for a token's response contract (options' buttons, the contract summary)."""

from __future__ import annotations

from django import template

from dashboard.choices import Choice, decides_in_row, decision_choices, done_wording
from dashboard.models import PendingDecision
from waitpoints.decisions.contract import Option
from waitpoints.models import Waitpoint

register = template.Library()

# The dashboard's existing button colours: primary is the approve green, danger the reject red.
OPTION_CLASSES = {"primary": "btn-approve", "danger": "btn-reject", "default": ""}


@register.filter
def option_class(option: Option) -> str:
    return OPTION_CLASSES.get(option.style, "")


@register.filter
def dashboard_choices(token: Waitpoint) -> list[Choice]:
    """The token's buttons as the dashboard shows them (`dashboard.choices`)."""
    return decision_choices(token)


@register.filter
def in_row(token: Waitpoint) -> bool:
    """Whether its row can decide it with one click (else "Decide…" opens its page)."""
    return decides_in_row(token.contract)


def _values(pending: PendingDecision) -> list[str]:
    return list(pending.choice) if isinstance(pending.choice, list) else [pending.choice]


@register.filter
def pending_state(pending: PendingDecision) -> str:
    """ "pending-approved": the row's `data-state` while the decision waits out its window."""
    return "pending-" + ",".join(_values(pending))


@register.filter
def pending_verb(token: Waitpoint) -> str:
    """ "Approving" / "Choosing Ship": the pending decision's wording."""
    contract = token.contract
    labels = {option.value: option.label for option in contract.options}
    return done_wording(_values(token.pending), labels, custom=contract.custom_options)[1]
