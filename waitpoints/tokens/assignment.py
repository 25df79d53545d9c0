"""Who may decide a token: people are Django auth users (by username or email) or outside
approvers known only by an email address (docs/architecture.md, "Who decides").

One place for the rule, used by the reviews API, the dashboard and the emailed links.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from waitpoints.decisions.policy import Policy
from waitpoints.errors import InvalidInput
from waitpoints.models import assignee_keys

REQUESTER_REFUSAL = "You requested this; someone else must decide"


@dataclass(frozen=True)
class Identity:
    """A person as votes name them: `name` is the username (or the lowercased address of an
    outside approver); `keys` everything a policy may call them by, lowercased."""

    name: str
    keys: frozenset[str]
    groups: frozenset[str] = frozenset()


def is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def identity_of(reviewer: str) -> Identity | None:
    """The person called `reviewer` (a username or an email address); None when it is neither
    an active user nor an email address."""
    users = get_user_model().objects.filter(is_active=True)
    user = users.filter(username=reviewer).first()
    if user is None and is_email(reviewer):
        user = users.filter(email__iexact=reviewer).order_by("id").first()
    if user is not None:
        return identity_of_user(user)
    if is_email(reviewer):
        return Identity(name=reviewer.lower(), keys=frozenset({reviewer.lower()}))
    return None


def identity_of_user(user) -> Identity:
    keys = {user.get_username().lower()}
    if user.email:
        keys.add(user.email.lower())
    groups = frozenset(user.groups.values_list("name", flat=True))
    return Identity(name=user.get_username(), keys=frozenset(keys), groups=groups)


def assignee_keys_of(identity: Identity) -> list[str]:
    """The `WaitpointAssignee` keys naming this person (as a user or by group)."""
    return assignee_keys(sorted(identity.keys), sorted(identity.groups))


def refusal(policy: Policy, identity: Identity) -> str | None:
    """Why this person may not decide a token with this policy (None: they may)."""
    if policy.requested_by and policy.requested_by.lower() in identity.keys:
        return REQUESTER_REFUSAL
    if not policy.assigned:
        return None
    if identity.keys & {user.lower() for user in policy.users}:
        return None
    if identity.groups & set(policy.groups):
        return None
    return "Assigned to " + ", ".join(policy.assignees)


def voter_addresses(reviewers) -> dict[str, str]:
    """{username: lowercased address} of the voters who are users with one (one query)."""
    users = get_user_model().objects.filter(username__in=set(reviewers)).exclude(email="")
    return {user.get_username(): user.email.lower() for user in users}


def keys_of_voters(reviewers, addresses: dict[str, str] | None = None) -> set[str]:
    """Every name the people who voted (by their stored `reviewer`: a username, or an outside
    approver's lowercased address) may be called by; `addresses` from `voter_addresses`."""
    names = list(reviewers)
    addresses = voter_addresses(names) if addresses is None else addresses
    return {name.lower() for name in names} | {addresses[n] for n in names if n in addresses}


def check_names_exist(stored: dict | None, *, details: dict[str, str]) -> None:
    """Add to `details` each reviewer, group or escalation target that names nobody: a name
    must be a username, a user's email or an email address (an outside approver)."""
    if not stored:
        return
    reviewers = stored.get("reviewers", {})
    for field, names in (
        ("reviewers.users", reviewers.get("users", [])),
        ("escalate.to", stored.get("escalate", {}).get("to", [])),
    ):
        for index, name in enumerate(names):
            if not is_email(name) and identity_of(name) is None:
                details[f"{field}[{index}]"] = f"{name!r} is neither a user nor an email address"
    known = set(
        Group.objects.filter(name__in=reviewers.get("groups", [])).values_list("name", flat=True)
    )
    for index, name in enumerate(reviewers.get("groups", [])):
        if name not in known:
            details[f"reviewers.groups[{index}]"] = f"{name!r} is not a group"


def refused_addresses(policy: Policy, addresses, *, field: str) -> dict[str, str]:
    """`{"<field>[i]": why}` for each address that may not decide (links go only to those who
    may)."""
    details: dict[str, str] = {}
    for index, address in enumerate(addresses):
        identity = identity_of(address)
        reason = refusal(policy, identity) if identity else None
        if reason:
            details[f"{field}[{index}]"] = f"{address} may not decide: {reason}"
    return details


def may_be_emailed(policy: Policy, address: str) -> bool:
    identity = identity_of(address)
    return identity is not None and refusal(policy, identity) is None


def addresses_of(names: list[str] | tuple[str, ...]) -> list[str]:
    """The email addresses of these people (an address as given, a user's own address)."""
    addresses: list[str] = []
    for name in names:
        identity = identity_of(name)
        user_address = (
            next((key for key in sorted(identity.keys) if "@" in key), None) if identity else None
        )
        address = name.lower() if is_email(name) and identity is None else user_address
        if address and address not in addresses:
            addresses.append(address)
    return addresses


def group_addresses(groups: tuple[str, ...]) -> list[str]:
    users = (
        get_user_model().objects.filter(is_active=True, groups__name__in=groups).exclude(email="")
    )
    return sorted({user.email.lower() for user in users})


def raise_if(details: dict[str, str]) -> None:
    if details:
        raise InvalidInput(details)
