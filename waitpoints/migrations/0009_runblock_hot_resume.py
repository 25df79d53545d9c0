"""Resuming a block becomes a HOT update: a heap-only tuple in the same page, no index entries.

The wake sets `resumed_at` on every block of a finished waitpoint. With a partial index on
`resumed_at IS NULL` (run_block_pending_idx) that column was indexed, so every resume wrote a new
entry into each of the table's three other indexes, and with full pages (fillfactor 100) the new
row version went to another page anyway: the block UPDATE was half of a mass expiry's wake
statement (docs/benchmarks.md, P4). The wake now probes the full `waitpoint_id` index (one or two
blocks per waitpoint) and the table keeps half of each page free for the resumed versions of its
rows, which a mass expiry rewrites together. The cost: a block's heap row takes about twice the
space.
"""

from django.db import migrations

FILLFACTOR = 50
PENDING_INDEX = "run_block_pending_idx"


def drop_pending_index(apps, schema_editor):
    # CONCURRENTLY on PostgreSQL: a plain DROP INDEX waits for an exclusive lock on the block
    # table, and every wait and wake-up queues behind it meanwhile.
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {PENDING_INDEX}")


def create_pending_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS {PENDING_INDEX} "
        "ON waitpoints_runblock (waitpoint_id) WHERE resumed_at IS NULL"
    )


def set_fillfactor(apps, schema_editor):
    # PostgreSQL only (SQLite has no fillfactor). Pages written from now on keep the space; a
    # `VACUUM FULL waitpoints_runblock` applies it to existing ones.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE waitpoints_runblock SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE waitpoints_runblock RESET (fillfactor)")


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("waitpoints", "0008_approval_policy"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="runblock", name=PENDING_INDEX),
            ],
            database_operations=[
                migrations.RunPython(drop_pending_index, create_pending_index),
            ],
        ),
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
