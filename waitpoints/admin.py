"""Admin: read-mostly views of the domain; state changes go through services."""

from django.contrib import admin

from waitpoints.models import ApiKey, AuditEvent, Environment, Run, Waitpoint
from waitpoints.runs.services.trigger import run_cancel


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "environment", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["environment"]
    readonly_fields = ["prefix", "environment", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", *readonly_fields]

    def has_add_permission(self, request) -> bool:
        return False  # secrets are issued by `manage.py create_api_key`, shown once


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
