"""Django forms built from a token's response contract: its options, its JSON Schema form, a
comment (docs/architecture.md, "Decisions"). The contract itself is checked again by the
service (`waitpoints.decisions`), whose errors come back onto these fields."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django import forms
from django.core.validators import RegexValidator

from waitpoints.core.durations import parse_duration
from waitpoints.decisions.contract import Contract, Option

MAX_COMMENT_LENGTH = 2000
EXTEND_CHOICES = {"1h": "+1 hour", "1d": "+1 day"}


class DecisionForm(forms.Form):
    """A decision on one token. `fixed_choice` (an emailed link's option) leaves no choice to
    make, unless the token allows several options: then it is only ticked in advance."""

    def __init__(
        self,
        contract: Contract,
        data: Any = None,
        *,
        fixed_choice: str | None = None,
        prefix: str | None = None,
    ) -> None:
        super().__init__(data, prefix=prefix)
        self.contract = contract
        self.fixed_choice = None if contract.multiple else fixed_choice
        choices = [(option.value, option.label) for option in contract.options]
        if contract.multiple:
            self.fields["choice"] = forms.MultipleChoiceField(
                choices=choices,
                widget=forms.CheckboxSelectMultiple,
                initial=[fixed_choice] if fixed_choice else [],
                label="Choose one or more",
            )
        elif self.fixed_choice is None:
            self.fields["choice"] = forms.ChoiceField(choices=choices, widget=forms.HiddenInput)
        self.schema_fields: list[tuple[str, str]] = []  # (form field name, schema property)
        schema = contract.schema or {}
        required = set(schema.get("required", ()))
        for index, (name, prop) in enumerate(schema.get("properties", {}).items()):
            form_name = f"field_{index}"
            self.fields[form_name] = schema_field(name, prop, required=name in required)
            self.schema_fields.append((form_name, name))
        self.fields["comment"] = forms.CharField(
            required=False,
            max_length=MAX_COMMENT_LENGTH,
            label="Comment",
            widget=forms.Textarea(attrs={"rows": 2}),
        )

    @property
    def form_fields(self) -> list[forms.BoundField]:
        return [self[form_name] for form_name, _ in self.schema_fields]

    @property
    def comment_required_by(self) -> list[Option]:
        return [option for option in self.contract.options if option.require_comment]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        chosen = self.chosen_values()
        options = [self.contract.option(value) for value in chosen]
        needs_comment = [option.label for option in options if option and option.require_comment]
        if needs_comment and not (cleaned.get("comment") or "").strip():
            self.add_error(
                "comment", f"A comment is required to choose {', '.join(needs_comment)}."
            )
        return cleaned

    def chosen_values(self) -> list[str]:
        if self.fixed_choice is not None:
            return [self.fixed_choice]
        choice = self.cleaned_data.get("choice")
        if choice is None:
            return []
        return list(choice) if isinstance(choice, list) else [choice]

    def choice(self) -> str | list[str]:
        values = self.chosen_values()
        return values if self.contract.multiple else values[0]

    def fields_output(self) -> dict[str, Any]:
        """The form's values as the schema's JSON (empty optional fields left out)."""
        output: dict[str, Any] = {}
        for form_name, name in self.schema_fields:
            value = self.cleaned_data.get(form_name)
            if value in (None, "", []) and not isinstance(
                self.fields[form_name], forms.BooleanField
            ):
                continue
            output[name] = to_json(value)
        return output

    def add_contract_errors(self, details: dict[str, str]) -> None:
        """The service's refusal (`choice`, `comment`, `fields.<name>`) on the fields it names."""
        by_property = {f"fields.{name}": form_name for form_name, name in self.schema_fields}
        for key, message in details.items():
            target = by_property.get(key) or (key if key in self.fields else None)
            self.add_error(target, message)


def schema_field(name: str, prop: dict[str, Any], *, required: bool) -> forms.Field:
    """One form field for one property of the supported JSON Schema subset."""
    options: dict[str, Any] = {
        "label": prop.get("title") or name,
        "help_text": prop.get("description", ""),
        "required": required,
        "initial": prop.get("default"),
    }
    kind = prop["type"]
    if kind == "boolean":
        # Unticked is `false`, a value: the JSON Schema's "required" is always met.
        return forms.BooleanField(**{**options, "required": False})
    if kind in ("integer", "number"):
        field_class = forms.IntegerField if kind == "integer" else forms.FloatField
        return field_class(min_value=prop.get("minimum"), max_value=prop.get("maximum"), **options)
    if kind == "array":
        choices = [(value, value) for value in prop["items"]["enum"]]
        return forms.MultipleChoiceField(
            choices=choices, widget=forms.CheckboxSelectMultiple, **options
        )
    if "enum" in prop:
        choices = [("", "—")] if not required else []
        return forms.ChoiceField(choices=choices + [(v, v) for v in prop["enum"]], **options)
    fmt = prop.get("format")
    if fmt == "date":
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **options)
    if fmt == "date-time":
        widget = forms.DateTimeInput(attrs={"type": "datetime-local"})
        return forms.DateTimeField(
            widget=widget, help_text=options.pop("help_text") + " (UTC)", **options
        )
    if fmt == "email":
        return forms.EmailField(max_length=prop.get("maxLength"), **options)
    validators = [RegexValidator(prop["pattern"])] if "pattern" in prop else []
    widget = forms.URLInput() if fmt == "uri" else forms.TextInput()
    return forms.CharField(
        max_length=prop.get("maxLength"), validators=validators, widget=widget, **options
    )


def to_json(value: Any) -> Any:
    if hasattr(value, "hour"):  # a datetime: the JSON Schema's date-time needs its offset
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class ExtendDeadlineForm(forms.Form):
    """ "+1h", "+1d" (buttons) or a custom duration / ISO date; the service checks it."""

    extend = forms.CharField(max_length=64, required=False)
    custom = forms.CharField(
        max_length=64,
        required=False,
        label="New deadline",
        widget=forms.TextInput(attrs={"placeholder": "2h, 3d or 2026-12-24T18:00Z"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        extend = cleaned.get("extend") or ""
        if extend != "custom" and extend not in EXTEND_CHOICES:
            raise forms.ValidationError("Choose +1 hour, +1 day or a new deadline.")
        if extend == "custom" and not (cleaned.get("custom") or "").strip():
            self.add_error("custom", "Give a duration (2h) or a date.")
        return cleaned

    def timeout(self, current_deadline) -> Any:
        """What to extend to: a custom value as given, a button's duration from the current
        deadline (the service measures durations from now; a date is unambiguous)."""
        extend = self.cleaned_data["extend"]
        if extend == "custom":
            return self.cleaned_data["custom"].strip()
        return current_deadline + parse_duration(extend, field="extend")
