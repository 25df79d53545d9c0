"""kombu's filesystem transport, safe for the processes of `make run` sharing one broker folder.

kombu 5.7's transport creates a message file and only then writes it (under a lock its readers
never take), so a worker listing the folder can take an empty or half-written message and die
with "Unrecoverable error: JSONDecodeError" (kombu issue #1551). Its exchange tables (under
`control_folder`) are created the same way. This subclass keeps kombu's folders and file names,
so the order of delivery is unchanged, and:

- writes a message under a name the readers skip, then renames it into place: `os.replace` is
  atomic, so a reader sees the whole message or nothing;
- claims a message by renaming it (of several consumers exactly one wins), hands back a file that
  a writer still holds or has only just created (a stock kombu process, say one started before
  this transport was configured), and sets aside, with an error in the log, a file it cannot
  decode instead of raising;
- rewrites an exchange table whole and renames it into place, under a lock file that serializes
  the processes binding queues at the same moment (the worker and its beat at start-up).

POSIX only (fcntl), like kombu's transport without pywin32.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from queue import Empty
from typing import BinaryIO

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

# Suffixes after `<queue>.msg`: kombu selects a queue's messages by the exact name ending, so
# readers, stock or not, skip these files.
WRITING_SUFFIX = ".writing"
CLAIMED_SUFFIX = ".claimed"
UNREADABLE_SUFFIX = ".unreadable"
# A stock writer creates the file before it locks and writes it; an empty message older than
# this is no longer one being written but one whose writer died.
ABANDONED_AFTER_SECONDS = 30.0


def message_filename(queue: str) -> str:
    """kombu's name for a new message: milliseconds first, so a sorted listing is FIFO."""
    return f"{int(round(time.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"


@contextmanager
def atomic_write(path: str) -> Iterator[BinaryIO]:
    """A file to write that appears at `path` only once closed, whole."""
    partial = path + WRITING_SUFFIX
    try:
        with open(partial, "wb") as file:
            yield file
        os.replace(partial, path)
    except BaseException:
        with suppress(OSError):
            os.remove(partial)
        raise


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        path = os.path.join(self.data_folder_out, message_filename(queue))
        try:
            with atomic_write(path) as file:
                file.write(str_to_bytes(dumps(payload)))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {path!r} to directory") from exc

    def _get(self, queue):
        wanted = f"{queue}.msg"
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != wanted:
                continue
            message = self._take(os.path.join(self.data_folder_in, filename))
            if message is not None:
                return message
        raise Empty()

    def _take(self, path: str) -> dict | None:
        """Claim, read and remove the message at `path`; None if it is not a whole message."""
        claimed = path + CLAIMED_SUFFIX
        try:
            os.rename(path, claimed)
        except OSError:
            return None  # another consumer claimed it first
        try:
            with open(claimed, "rb") as file:
                try:
                    fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.rename(claimed, path)  # a stock writer is still writing it
                    return None
                data = file.read()
                age = time.time() - os.fstat(file.fileno()).st_mtime
            if not data and age < ABANDONED_AFTER_SECONDS:
                os.rename(claimed, path)  # a stock writer created it and has yet to lock it
                return None
            try:
                message = loads(bytes_to_str(data))
            except ValueError:
                os.rename(claimed, path + UNREADABLE_SUFFIX)
                logger.error(
                    "Set aside message file %s: %d bytes that are not a JSON message",
                    path + UNREADABLE_SUFFIX,
                    len(data),
                )
                return None
            if self.store_processed:
                shutil.move(claimed, os.path.join(self.processed_folder, os.path.basename(path)))
            else:
                os.remove(claimed)
        except OSError as exc:
            raise ChannelError(f"Cannot read file {claimed!r} from queue.") from exc
        return message

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def add(table: list) -> bool:
            if binding in table:
                return False
            table.insert(0, binding)
            return True

        self._update_table(exchange, add)

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        # virtual.Channel's own bookkeeping; kombu's filesystem version would rewrite the table
        # in place, under a lock this class's writers don't take.
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def remove(table: list) -> bool:
            if binding not in table:
                return False
            table.remove(binding)
            return True

        self._update_table(exchange, remove)

    def _update_table(self, exchange: str, change: Callable[[list], bool]) -> None:
        """Read, change and atomically replace an exchange's table of bindings."""
        table_file = self._exchange_file(exchange)
        try:
            self.control_folder.mkdir(parents=True, exist_ok=True)
            with open(f"{table_file}.lock", "a") as guard:
                fcntl.flock(guard, fcntl.LOCK_EX)  # released when closed
                try:
                    rows = loads(table_file.read_bytes())
                except FileNotFoundError:
                    rows = []
                except ValueError:
                    logger.error("Rewriting unreadable exchange table %s", table_file)
                    rows = []
                table = [filesystem.exchange_queue_t(*row) for row in rows]
                if change(table):
                    with atomic_write(str(table_file)) as file:
                        file.write(str_to_bytes(dumps(table)))
        except OSError as exc:
            raise ChannelError(f"Cannot open {table_file}") from exc


class Transport(filesystem.Transport):
    Channel = Channel
