"""Display hints on tokens, and the full-text index of the inbox search (PostgreSQL only).

The index expression must stay identical to `waitpoints.tokens.sql.SEARCH_DOCUMENT`, or the
planner will not use it (tests/dashboard/test_context_search.py checks the plan). Built
CONCURRENTLY: an existing table keeps taking creates while it builds.
"""

from django.db import migrations, models

SEARCH_INDEX = "waitpoint_search_idx"
SEARCH_DOCUMENT = (
    "(to_tsvector('simple'::regconfig, title::text) || jsonb_to_tsvector('simple'::regconfig, "
    "COALESCE(context, '{}'::jsonb), '[\"string\", \"numeric\"]'::jsonb))"
)


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {SEARCH_INDEX} "
            f"ON waitpoints_waitpoint USING gin ({SEARCH_DOCUMENT})"
        )


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {SEARCH_INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("waitpoints", "0006_structured_decisions"),
    ]

    operations = [
        migrations.AddField(
            model_name="waitpoint",
            name="display",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
