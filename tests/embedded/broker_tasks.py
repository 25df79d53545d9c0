"""The task of the broker test's workers: it records each message it is given."""

from pathlib import Path

from celery import shared_task


@shared_task(name="tests.embedded.record_message")
def record_message(results_dir: str, message_id: str, padding: str) -> None:
    record = Path(results_dir) / message_id
    if record.exists():
        record = record.with_name(f"{message_id}.again")  # delivered twice: the test fails
    record.touch()
