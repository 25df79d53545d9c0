"""The decisions a reviewer may pick for a token, produced in one place: the inbox rows, the
detail page, the keyboard shortcuts, the bulk bar and the forms all read the token's contract
with the dashboard's policy applied (docs/architecture.md, "Dashboard" and "Decisions")."""

from __future__ import annotations

from dataclasses import dataclass, replace

from dashboard.services import common_options
from waitpoints.conf import waitpoints_settings
from waitpoints.decisions.contract import (
    APPROVED,
    DEFAULT_OPTIONS,
    REJECTED,
    Contract,
    Option,
)
from waitpoints.models import Waitpoint

DEFAULT_REJECT = next(option for option in DEFAULT_OPTIONS if option.value == REJECTED)
# Today's two choices keep their wording ("Approved: …", "Rejecting …").
PAST = {APPROVED: "Approved", REJECTED: "Rejected"}
VERB = {APPROVED: "Approving", REJECTED: "Rejecting"}
BUTTON_CLASSES = {"primary": "btn-approve", "danger": "btn-reject"}


@dataclass(frozen=True)
class Choice:
    """One button: an option of the token's contract as the dashboard shows it."""

    value: str  # what the form posts as `choice`
    label: str
    style: str  # primary | danger | default
    require_comment: bool
    shortcut: str = ""  # the inbox's one-key shortcut: a / r

    @property
    def button_class(self) -> str:
        return BUTTON_CLASSES.get(self.style, "")


def with_policy(option: Option) -> Option:
    """The dashboard's policy: the default Reject needs a reason when
    WAITPOINTS_REJECT_REQUIRES_REASON is on (a contract's own options say so themselves)."""
    if option == DEFAULT_REJECT and waitpoints_settings.reject_requires_reason:
        return replace(option, require_comment=True)
    return option


def dashboard_contract(token: Waitpoint) -> Contract:
    """The token's contract as reviewers answer it (dashboard and emailed links): the forms
    validate against this, the service records against the token's own."""
    contract = token.contract
    return replace(contract, options=tuple(with_policy(option) for option in contract.options))


def choices_of(options: tuple[Option, ...] | list[Option]) -> list[Choice]:
    """The buttons for these options; `a` is the first primary one, `r` the first danger one."""
    shortcuts = {}
    for option in options:
        key = {"primary": "a", "danger": "r"}.get(option.style)
        if key and key not in shortcuts.values():
            shortcuts[option.value] = key
    return [
        Choice(
            value=option.value,
            label=option.label,
            style=option.style,
            require_comment=option.require_comment,
            shortcut=shortcuts.get(option.value, ""),
        )
        for option in options
    ]


def decision_choices(token: Waitpoint) -> list[Choice]:
    return choices_of(dashboard_contract(token).options)


def bulk_choices(tokens: list[Waitpoint]) -> list[Choice]:
    """The options every listed token offers (those with required fields left out)."""
    return choices_of([with_policy(option) for option in common_options(tokens)])


def decides_in_row(contract: Contract) -> bool:
    """Whether one click can decide it: no required fields, one option at a time."""
    return not contract.has_required_fields and not contract.multiple


def done_wording(values: list[str], labels: dict[str, str], *, custom: bool) -> tuple[str, str]:
    """("Approved", "Approving") for today's choices; ("Chose X", "Choosing X") otherwise."""
    if not custom and len(values) == 1 and values[0] in PAST:
        return PAST[values[0]], VERB[values[0]]
    named = ", ".join(labels.get(value, value) for value in values)
    return f"Chose {named}", f"Choosing {named}"
