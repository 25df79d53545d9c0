"""Admin: read-mostly views of the domain; state changes go through services."""

from django import forms
from django.contrib import admin, messages

from waitpoints.core.validation import clean_environment_slug
from waitpoints.environments import services as environments
from waitpoints.errors import InvalidInput
from waitpoints.models import (
    SUBSCRIBABLE_EVENTS,
    ApiKey,
    AuditEvent,
    Environment,
    Run,
    Waitpoint,
    WebhookDelivery,
    WebhookEndpoint,
)
from waitpoints.runs.services.trigger import run_cancel
from waitpoints.webhooks import services as webhooks


class EnvironmentForm(forms.ModelForm):
    class Meta:
        model = Environment
        fields = ["slug", "name"]

    def clean_slug(self):
        try:
            return clean_environment_slug(self.cleaned_data["slug"], field="slug")
        except InvalidInput as exc:
            raise forms.ValidationError(exc.details["slug"]) from None


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    form = EnvironmentForm
    list_display = ["slug", "name", "created_at", "previous_signing_secret_expires_at"]
    search_fields = ["slug", "name"]
    actions = ["rotate_signing_secret"]

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj else []  # the slug is in every API key and public access token

    @admin.action(description="Rotate the signing secret (old callback URLs work 7 more days)")
    def rotate_signing_secret(self, request, queryset):
        for environment in queryset:
            environments.environment_rotate_signing_secret(environment=environment)
        self.message_user(request, f"Rotated {queryset.count()} signing secret(s).")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "environment", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["environment"]
    readonly_fields = ["prefix", "environment", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", *readonly_fields]

    actions = ["revoke_keys"]

    def has_add_permission(self, request) -> bool:
        return False  # secrets are issued by `manage.py create_api_key`, shown once

    @admin.action(description="Revoke the selected API keys (401 at once)")
    def revoke_keys(self, request, queryset):
        for api_key in queryset:
            environments.api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} API key(s).")


@admin.register(Waitpoint)
class WaitpointAdmin(admin.ModelAdmin):
    list_display = ["id", "environment", "kind", "status", "title", "timeout_at", "created_at"]
    list_filter = ["environment", "kind", "status"]
    search_fields = ["id", "title", "idempotency_key"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "environment", "task_id", "status", "attempt_count", "created_at"]
    list_filter = ["environment", "status", "task_id"]
    search_fields = ["id", "task_id", "idempotency_key"]
    actions = ["cancel_runs"]

    @admin.action(description="Cancel selected runs (finished runs are left as they are)")
    def cancel_runs(self, request, queryset):
        canceled = 0
        for run in queryset.select_related("environment"):
            if run_cancel(environment=run.environment, run_id=run.id).status == "CANCELED":
                canceled += 1
        self.message_user(request, f"{canceled} run(s) canceled.")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "waitpoint", "action", "via", "actor"]
    list_filter = ["action", "via"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=[(event, event) for event in SUBSCRIBABLE_EVENTS],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["environment", "url", "description", "events", "enabled"]

    def clean(self):
        cleaned = super().clean()
        try:  # the service's rules, including the SSRF guard
            webhooks.validate(
                url=cleaned.get("url"),
                events_=cleaned.get("events"),
                description=cleaned.get("description"),
            )
        except InvalidInput as exc:
            for field, message in exc.details.items():
                self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Writes go through `webhooks.services`; the secret is shown once, after creating."""

    form = WebhookEndpointForm
    list_display = ["url", "environment", "events", "enabled", "disabled_reason", "created_at"]
    list_filter = ["environment", "enabled"]
    search_fields = ["id", "url", "description"]
    readonly_fields = ["id", "failing_since", "disabled_reason", "created_at", "updated_at"]
    actions = ["send_test_event"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "environment"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            webhooks.endpoint_update(
                environment=obj.environment,
                endpoint_id=obj.id,
                url=data["url"],
                events=data["events"],
                description=data["description"],
                enabled=data["enabled"],
            )
            return
        created = webhooks.endpoint_create(
            environment=data["environment"],
            url=data["url"],
            events=data["events"],
            description=data["description"],
        )
        if not data["enabled"]:
            webhooks.endpoint_update(
                environment=data["environment"], endpoint_id=created.endpoint.id, enabled=False
            )
        obj.pk = created.endpoint.pk  # the admin's redirect and log name this row
        self.message_user(
            request,
            f"Signing secret of {created.endpoint.url} (shown only now): {created.secret}",
            messages.WARNING,
        )

    def delete_model(self, request, obj):
        webhooks.endpoint_delete(environment=obj.environment, endpoint_id=obj.id)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset.select_related("environment"):
            self.delete_model(request, endpoint)

    @admin.action(description="Send a test event to the selected endpoints")
    def send_test_event(self, request, queryset):
        for endpoint in queryset.select_related("environment"):
            webhooks.endpoint_send_test(environment=endpoint.environment, endpoint_id=endpoint.id)
        self.message_user(request, f"{queryset.count()} test event(s) queued.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event_type"]
    search_fields = ["id", "subject_id"]
    exclude = ["body"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False
