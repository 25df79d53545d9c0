from django.apps import AppConfig


class WaitpointsConfig(AppConfig):
    name = "waitpoints"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: task modules import models, which need the app registry.
        from waitpoints.runs.registry import import_task_modules

        import_task_modules()
