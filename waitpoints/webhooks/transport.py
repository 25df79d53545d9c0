"""One POST to a webhook URL: to an address the guard allowed (the connection is pinned to it,
so DNS cannot change between the check and the connect), with a timeout, never following a
redirect (http.client does not follow any)."""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass

from waitpoints.webhooks.guard import Target, resolve

# What is kept of an answer's body for `last_error`.
MAX_ANSWER_BYTES = 1024


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # Certificate and SNI for the URL's host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


def post(target: Target, *, body: str, headers: dict, timeout: float) -> Answer:
    """POST `body`; the answer (any status, a 3xx is not followed). Raises OSError (including
    timeouts), http.client.HTTPException or guard.UnsafeURL."""
    address = resolve(target)[0]
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, address=address, timeout=timeout)
    try:
        connection.request("POST", target.path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        answer = response.read(MAX_ANSWER_BYTES)
        return Answer(status=response.status, body=answer.decode(errors="replace"))
    finally:
        connection.close()
