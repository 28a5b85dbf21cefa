"""A local HTTP endpoint that speaks Cost Explorer's JSON protocol, answering from the sample
bill, so the installed ``finops`` can be run against it with ``AWS_ENDPOINT_URL``: real boto3,
real signing, real retries, real error parsing; no AWS account."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from finops_cli.sample.bill import SampleBill, SampleCostExplorer

FAKE_KEY_ID = "AKIAFAKEKEY000000001"
FAKE_SECRET = "fakeSecretKeyThatMustNeverBePrinted00001"


@dataclass
class FakeCostExplorer:
    """What the endpoint does: ``throttle`` first requests, or ``deny`` them all."""

    throttle: int = 0
    deny: str | None = None
    page_size: int = 10
    requests: list[tuple[str, dict]] = field(default_factory=list)
    url: str = ""

    def answer(self, target: str, body: dict) -> tuple[int, dict]:
        self.requests.append((target, body))
        if self.deny is not None:
            return 400, {"__type": "AccessDeniedException", "Message": self.deny}
        if self.throttle > 0:
            self.throttle -= 1
            return 400, {"__type": "LimitExceededException", "message": "Rate exceeded"}
        fake = SampleCostExplorer(SampleBill(), datetime.now(UTC), page_size=self.page_size)
        operation = target.rsplit(".", 1)[-1]
        if operation == "GetCostAndUsage":
            return 200, fake.get_cost_and_usage(**body)
        if operation == "GetCostForecast":
            return 200, fake.get_cost_forecast(**body)
        return 400, {"__type": "ValidationException", "message": f"unsupported {operation}"}


@contextmanager
def fake_cost_explorer(**behaviour: object) -> Iterator[FakeCostExplorer]:
    state = FakeCostExplorer(**behaviour)  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            status, payload = state.answer(self.headers.get("X-Amz-Target", ""), body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def aws_env(url: str | None, cache_dir: str, *, credentials: bool = True) -> dict[str, str]:
    """Environment for the CLI: fake keys, the fake endpoint, no instance metadata lookups."""
    env = {
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
        "XDG_CACHE_HOME": cache_dir,
    }
    if credentials:
        env |= {"AWS_ACCESS_KEY_ID": FAKE_KEY_ID, "AWS_SECRET_ACCESS_KEY": FAKE_SECRET}
    if url:
        env["AWS_ENDPOINT_URL"] = url
    return env
