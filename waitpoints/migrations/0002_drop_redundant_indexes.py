"""Drop indexes that other indexes already cover, and keep key-less tokens out of the idempotency
key index: each index entry costs every INSERT and non-HOT UPDATE of its table, and the sweeper
rewrites many rows at once (docs/benchmarks.md, P4)."""

import django.db.models.deletion
from django.db import migrations, models

# PostgreSQL only: Django adds a `varchar_pattern_ops` copy of every indexed varchar column for
# LIKE 'prefix%' lookups, and no field option turns them off. Nothing looks these up by prefix
# (the waitpoint id's copy stays: the dashboard's id search uses it).
PATTERN_INDEXES = [
    ("waitpoints_run_id_c16889e2_like", "waitpoints_run", "id"),
    ("waitpoints_runblock_waitpoint_id_17659bd2_like", "waitpoints_runblock", "waitpoint_id"),
]


def drop_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, _table, _column in PATTERN_INDEXES:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, table, column in PATTERN_INDEXES:
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}" varchar_pattern_ops)'
            )


class Migration(migrations.Migration):
    dependencies = [
        ("waitpoints", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="waitpoint",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="audit_events",
                to="waitpoints.waitpoint",
            ),
        ),
        migrations.AlterField(
            model_name="run",
            name="environment",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="runs",
                to="waitpoints.environment",
            ),
        ),
        migrations.AlterField(
            model_name="runblock",
            name="run",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="blocks",
                to="waitpoints.run",
            ),
        ),
        migrations.AlterField(
            model_name="waitpoint",
            name="environment",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="waitpoints",
                to="waitpoints.environment",
            ),
        ),
        migrations.RemoveIndex(model_name="waitpoint", name="waitpoint_idem_idx"),
        migrations.AddIndex(
            model_name="waitpoint",
            index=models.Index(
                condition=models.Q(("idempotency_key_hash__isnull", False)),
                fields=["environment", "idempotency_key_hash"],
                name="waitpoint_idem_idx",
            ),
        ),
        migrations.RunPython(drop_pattern_indexes, create_pattern_indexes, elidable=True),
    ]
