"""Dashboard forms: the inbox filters (all in the query string) and the reviewer actions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone

from waitpoints.core.validation import clean_json, clean_tags
from waitpoints.errors import InvalidInput
from waitpoints.models import Environment, WaitpointStatus
from waitpoints.tokens import assignment
from waitpoints.tokens.assignment import Identity
from waitpoints.tokens.selectors import TokenFilters

PERIODS = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7)}
PERIODS["30d"] = timedelta(days=30)
PAGE_SIZES = (10, 25, 50, 100)
MAX_COMMENT_LENGTH = 2000
MAX_BULK = 100  # the largest inbox page
MAX_JSON_LENGTH = 1024 * 1024


class InboxFilterForm(forms.Form):
    """GET filters. With no `status` key at all the inbox shows WAITING tokens; the form
    always sends an empty `status` as well, so unticking every box means "any status"."""

    status = forms.MultipleChoiceField(
        choices=WaitpointStatus.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    tags = forms.CharField(
        required=False,
        label="Tags (has all)",
        help_text="Comma-separated",
        widget=forms.TextInput(attrs={"placeholder": "moderation, user:42"}),
    )
    period = forms.ChoiceField(
        required=False,
        choices=[("", "Any time"), ("1h", "Last hour"), ("1d", "Last day")]
        + [("7d", "Last 7 days"), ("30d", "Last 30 days")],
        label="Created",
    )
    created_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    key = forms.CharField(required=False, label="Idempotency key", max_length=2048)
    q = forms.CharField(
        required=False,
        label="Search",
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Words of the title or context, or an id",
                "dir": "auto",
            }
        ),
    )
    mine = forms.BooleanField(required=False, label="Assigned to me")
    env = forms.ChoiceField(required=False, label="Environment")
    size = forms.TypedChoiceField(
        choices=[(size, size) for size in PAGE_SIZES],
        coerce=int,
        required=False,
        empty_value=25,
        label="Per page",
    )

    def __init__(
        self,
        params: QueryDict,
        *,
        environments: list[Environment],
        me: Identity | None = None,
        mine_by_default: bool = False,
    ) -> None:
        """`me`: who is looking ("Assigned to me": tokens they may decide and have not voted
        on, the default view when `mine_by_default`; the form always sends an empty `mine`)."""
        self.me = me
        data = params.copy()
        if "mine" not in params and mine_by_default:
            data["mine"] = "on"
        data.setlist("status", [value for value in params.getlist("status") if value])
        if "status" not in params:
            data.setlist("status", [WaitpointStatus.WAITING])
        if not params.get("size"):
            data["size"] = "25"
        super().__init__(data)
        self.environments = environments
        self.fields["env"].choices = [("", "All environments")] + [
            (environment.slug, environment.name or environment.slug) for environment in environments
        ]

    def clean_env(self) -> Environment | None:
        slug = self.cleaned_data.get("env")
        return next((env for env in self.environments if env.slug == slug), None)

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        try:
            return clean_tags([tag.strip() for tag in raw.split(",") if tag.strip()])
        except InvalidInput as exc:
            raise forms.ValidationError(next(iter(exc.details.values()))) from None

    def token_filters(self) -> TokenFilters:
        """The filters of every valid field (an invalid one is shown, and left out)."""
        data = self.cleaned_data
        filters = TokenFilters(
            statuses=data.get("status") or [],
            all_tags=data.get("tags") or [],
            idempotency_key=data.get("key") or None,
            search=(data.get("q") or "").strip() or None,
        )
        if data.get("mine") and self.me is not None:
            filters.assigned_keys = assignment.assignee_keys_of(self.me)
            filters.voter = self.me.name
        if data.get("period"):
            filters.created_from = timezone.now() - PERIODS[data["period"]]
        if data.get("created_from"):
            start = datetime.combine(data["created_from"], time.min, tzinfo=UTC)
            filters.created_from = max(filters.created_from or start, start)
        if data.get("created_to"):
            filters.created_to = datetime.combine(data["created_to"], time.max, tzinfo=UTC)
        return filters

    def selected_environments(self) -> list[Environment]:
        chosen = self.cleaned_data.get("env")
        return [chosen] if chosen else self.environments

    @property
    def page_size(self) -> int:
        return self.cleaned_data.get("size") or 25

    @property
    def is_narrowed(self) -> bool:
        """Whether anything beyond the default WAITING view is applied."""
        data = self.cleaned_data
        return (data.get("status") or []) != [WaitpointStatus.WAITING] or any(
            data.get(name)
            for name in ("tags", "period", "created_from", "created_to", "key", "q", "mine")
        )


class BulkDecisionForm(forms.Form):
    """One `choice` (an option value the selected tokens share) for up to MAX_BULK tokens;
    each token's own contract is checked when it is decided (`undo.decisions_submit`)."""

    ids = forms.MultipleChoiceField(required=True)
    choice = forms.CharField(max_length=64)
    comment = forms.CharField(required=False, max_length=MAX_COMMENT_LENGTH)

    def __init__(self, data: QueryDict) -> None:
        super().__init__(data)
        self.fields["ids"].choices = [(token_id, token_id) for token_id in data.getlist("ids")]
        self.fields["ids"].error_messages["required"] = "Select at least one token."
        self.fields["choice"].error_messages["required"] = (
            "Choose an option for the selected tokens."
        )

    def clean_ids(self) -> list[str]:
        ids = self.cleaned_data["ids"]
        if len(ids) > MAX_BULK:
            raise forms.ValidationError(f"Select at most {MAX_BULK} tokens at once.")
        return ids


class CompleteWithJsonForm(forms.Form):
    data = forms.CharField(
        label="Output (JSON)",
        required=False,
        max_length=MAX_JSON_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="Any JSON value; empty means null.",
    )

    def clean_data(self) -> Any:
        text = self.cleaned_data.get("data") or ""
        if not text.strip():
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                "Not valid JSON: %(msg)s (line %(line)s, column %(column)s).",
                params={"msg": exc.msg, "line": exc.lineno, "column": exc.colno},
            ) from None
        except RecursionError:
            # json.loads recurses per level: thousands of brackets would otherwise be a 500.
            raise forms.ValidationError("Not valid JSON: nested too deeply.") from None
        try:
            return clean_json(value, field="data")
        except InvalidInput as exc:
            raise forms.ValidationError(f"Not storable: {exc.details['data']}.") from None
