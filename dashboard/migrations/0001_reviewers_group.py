"""The "Reviewers" group: its members may complete and time out tokens in the dashboard."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Reviewers"


def create_reviewers_group(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure this one exists now.
    waitpoints_config = apps.get_app_config("waitpoints")
    models_module = getattr(waitpoints_config, "models_module", None)
    waitpoints_config.models_module = True  # the migration state's stub has none
    try:
        create_permissions(waitpoints_config, apps=apps, verbosity=0)
    finally:
        waitpoints_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(
        content_type__app_label="waitpoints", codename="complete_waitpoint"
    )
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(permission)


def remove_reviewers_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("waitpoints", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_reviewers_group, remove_reviewers_group)]
