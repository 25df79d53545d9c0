# Hardening (issue 13, item 8): run idempotency keys hashed like token keys (a long UTF-8
# key exceeded PostgreSQL's btree entry), and a previous signing secret kept for a grace period.

import hashlib

from django.db import migrations, models


def hash_run_idempotency_keys(apps, schema_editor):
    """Runs triggered with a key before this migration: store its SHA-256, as new runs do."""
    Run = apps.get_model("waitpoints", "Run")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"UPDATE {Run._meta.db_table} SET idempotency_key_hash ="
            " encode(sha256(convert_to(idempotency_key, 'UTF8')), 'hex')"
            " WHERE idempotency_key IS NOT NULL"
        )
        return
    runs = Run.objects.filter(idempotency_key__isnull=False).only("id", "idempotency_key")
    for run in runs.iterator():
        Run.objects.filter(pk=run.pk).update(
            idempotency_key_hash=hashlib.sha256(run.idempotency_key.encode()).hexdigest()
        )


class Migration(migrations.Migration):

    dependencies = [
        ('waitpoints', '0004_webhooks'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='run',
            name='run_unique_idempotency_key',
        ),
        migrations.AddField(
            model_name='environment',
            name='previous_signing_secret',
            field=models.CharField(blank=True, editable=False, max_length=128),
        ),
        migrations.AddField(
            model_name='environment',
            name='previous_signing_secret_expires_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='run',
            name='idempotency_key_hash',
            field=models.CharField(blank=True, editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(hash_run_idempotency_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='run',
            constraint=models.UniqueConstraint(condition=models.Q(('idempotency_key_hash__isnull', False)), fields=('environment', 'task_id', 'idempotency_key_hash'), name='run_unique_idempotency_key_hash'),
        ),
    ]
