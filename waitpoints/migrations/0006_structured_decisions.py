# Issue 11: structured decisions: a token's response contract and its deadline's output;
# "fail" as a way a token ends; failed and extended audit events.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('waitpoints', '0005_hardening'),
    ]

    operations = [
        migrations.AddField(
            model_name='waitpoint',
            name='response',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='waitpoint',
            name='timeout_output',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('created', 'Created'), ('completed', 'Completed'), ('timed_out', 'Timed Out'), ('forced_timeout', 'Forced Timeout'), ('email_sent', 'Email Sent'), ('failed', 'Failed'), ('extended', 'Extended')], max_length=32),
        ),
        migrations.AlterField(
            model_name='waitpoint',
            name='completed_via',
            field=models.CharField(blank=True, choices=[('api', 'Api'), ('callback', 'Callback'), ('dashboard', 'Dashboard'), ('email', 'Email'), ('timeout', 'Timeout'), ('sdk', 'Sdk'), ('fail', 'Fail')], max_length=16),
        ),
    ]
