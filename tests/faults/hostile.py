"""A raw-socket HTTP server on loopback that misbehaves on purpose, for the shared HTTP client.

The fault proxy forwards to a real backend and bends its answers; these behaviours need no
backend at all: an endless body, a body that trickles a byte a second, a status line and headers
that trickle a byte every half second, a JSON array nested 200,000 deep, a 500 that echoes the
request (headers, URL and all) back. Each connection gets the ``behaviour`` callable with the
request head and the socket, in a thread of its own.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

Behaviour = Callable[[bytes, socket.socket, threading.Event], None]


class HostileServer:
    """Serves ``behaviour`` on ``127.0.0.1:<free port>`` until the ``with`` block ends."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.requests: list[bytes] = []  # the heads of complete HTTP requests
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()
        self._thread.join(5)
        self._sock.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            conn.settimeout(5)
            try:
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                    if head.startswith(b"\x16"):  # a TLS ClientHello: answer as plain http does
                        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                        return
                self.requests.append(head)
                self.behaviour(head, conn, self.stop)
            except OSError:
                return  # the client hung up, as it should on a hostile answer


def headers(status: str = "200 OK", **extra: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def endless(total_mib: int) -> Behaviour:
    """A 200 with no Content-Length and ``total_mib`` MiB of body, 1 MiB at a time."""
    block = b" " * 2**20

    def serve(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(headers() + b"[")
        for _ in range(total_mib):
            if stop.is_set():
                return
            conn.sendall(block)

    return serve


def declared(size: int) -> Behaviour:
    """A 200 that announces ``size`` bytes of body and sends none."""

    def serve(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(headers(Content_Length=str(size)))
        stop.wait(10)

    return serve


def trickle(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
    """Headers at once, then one byte a second of a body that never ends."""
    conn.sendall(headers(Content_Length=str(10**6)) + b"[")
    while not stop.wait(1.0):
        conn.sendall(b" ")


def trickle_head(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
    """The status line and then headers one byte every half second, forever: each byte resets a
    per-read timeout, so only a deadline for the whole attempt ends it."""
    sent = headers().removesuffix(b"\r\n") + b"X-Padding: "
    for byte in sent:
        conn.sendall(bytes([byte]))
        if stop.wait(0.5):
            return
    while not stop.wait(0.5):
        conn.sendall(b"a")


def trickle_both(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
    """The headers a byte every 20 ms (about 1.5 s in all), then a body a byte every half second."""
    for byte in headers(Content_Length=str(10**6)) + b"[":
        conn.sendall(bytes([byte]))
        if stop.wait(0.02):
            return
    while not stop.wait(0.5):
        conn.sendall(b" ")


def deep_json(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
    """A well-formed JSON array nested 200,000 deep: valid JSON, and a parser's stack overflow."""
    body = b"[" * 200_000 + b"]" * 200_000
    conn.sendall(headers(Content_Length=str(len(body))) + body)


def echo_500(head: bytes, conn: socket.socket, stop: threading.Event) -> None:
    """A 500 whose body repeats the request head: the credential headers first (messages quote
    only a body's start), then the request line with the URL's query."""
    lines = head.strip().split(b"\r\n")
    secret = [line for line in lines[1:] if line.lower().startswith((b"authorization", b"x-"))]
    body = b"upstream failed for " + b" | ".join([*secret, lines[0]])
    conn.sendall(headers("500 Internal Server Error", Content_Length=str(len(body))) + body)
