from django.apps import AppConfig


class WaitpointsConfig(AppConfig):
    name = "waitpoints"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from waitpoints import registry

        registry.import_task_modules()
