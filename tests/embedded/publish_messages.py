"""Publish `record_message` tasks to the configured broker from several threads at once.

python -m tests.embedded.publish_messages <results dir> <prefix> <threads> <per thread>
"""

import sys
import threading

from config.celery import app

# Large enough for a write to take a while, so a consumer often lists a file being written.
PADDING = "x" * 64 * 1024


def main(results_dir: str, prefix: str, threads: int, per_thread: int) -> int:
    errors: list[BaseException] = []

    def publish(thread: int) -> None:
        try:
            for number in range(per_thread):
                app.send_task(
                    "tests.embedded.record_message",
                    args=[results_dir, f"{prefix}-{thread}-{number}", PADDING],
                )
        except BaseException as error:
            errors.append(error)

    publishers = [threading.Thread(target=publish, args=(n,)) for n in range(threads)]
    for publisher in publishers:
        publisher.start()
    for publisher in publishers:
        publisher.join()
    for error in errors:
        print(f"publishing failed: {error!r}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    results_dir, prefix, threads, per_thread = sys.argv[1:]
    sys.exit(main(results_dir, prefix, int(threads), int(per_thread)))
