"""A local HTTP server standing in for a Slack (or generic) webhook, for notification tests.

It records every request and answers from a script of status codes (the last one repeats), so a
test can make it fail twice with 503 and then accept, or refuse with 404.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hook:
    url: str
    statuses: list[int]
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r["body"]) for r in self.requests]


@contextmanager
def webhook(*statuses: int, path: str = "/services/T000/B000/XXXXSECRETXXXX") -> Iterator[Hook]:
    """Serve on a free loopback port; ``statuses`` are answered in order, the last repeating."""
    hook = Hook(url="", statuses=list(statuses) or [200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8")
            hook.requests.append(
                {"path": self.path, "body": body, "type": self.headers.get("Content-Type")}
            )
            index = min(len(hook.requests), len(hook.statuses)) - 1
            status = hook.statuses[index]
            reply = b"ok" if status == 200 else f"no_service for {self.path}".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test output is not the place for access logs."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
