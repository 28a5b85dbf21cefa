"""A local HTTP endpoint that speaks Cost Explorer's JSON protocol, answering from the sample
bill, so the installed ``finops`` can be run against it with ``AWS_ENDPOINT_URL``: real boto3,
real signing, real retries, real error parsing; no AWS account.

With ``commitments=CommitmentScenario()`` it also answers the commitment operations
(``GetSavingsPlansUtilization(Details)``, ``GetSavingsPlansCoverage``,
``GetReservationUtilization``, ``GetReservationCoverage``,
``GetSavingsPlansPurchaseRecommendation``) and, on the same port, EC2's query protocol
(form-encoded ``Action=DescribeCapacityReservations`` / ``DescribeCapacityBlockOfferings``,
XML answers in the ``ec2`` model's element names). moto (5.2) implements neither EC2 operation,
so the fake serves them itself.

Every request is checked against botocore's model of the operation's input
(``ParamValidator``), every answer against its output shape, before it is sent: a request the
real API would reject, or an answer it could not give, lands in ``invalid`` and fails the test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from finops_cli.sample.bill import SampleBill, SampleCostExplorer
from tests.support.ce_commitments import CommitmentScenario

FAKE_KEY_ID = "AKIAFAKEKEY000000001"
FAKE_SECRET = "fakeSecretKeyThatMustNeverBePrinted00001"


@dataclass
class FakeCostExplorer:
    """What the endpoint does: ``throttle`` first requests, or ``deny`` them all."""

    throttle: int = 0
    deny: str | None = None
    page_size: int = 10
    commitments: CommitmentScenario | None = None
    ec2_throttle: int = 0
    requests: list[tuple[str, dict]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    url: str = ""

    def answer(self, target: str, body: dict) -> tuple[int, dict]:
        self.requests.append((target, body))
        operation = target.rsplit(".", 1)[-1]
        problem = _invalid("ce", operation, body, "input")
        if problem is not None:
            self.invalid.append(f"{operation} request: {problem}")
            return 400, {"__type": "ValidationException", "message": problem}
        if self.deny is not None:
            return 400, {"__type": "AccessDeniedException", "Message": self.deny}
        if self.throttle > 0:
            self.throttle -= 1
            return 400, {"__type": "LimitExceededException", "message": "Rate exceeded"}
        fake = SampleCostExplorer(SampleBill(), datetime.now(UTC), page_size=self.page_size)
        answer: dict[str, Any] | None = None
        if operation == "GetCostAndUsage":
            answer = fake.get_cost_and_usage(**body)
        elif operation == "GetCostForecast":
            answer = fake.get_cost_forecast(**body)
        elif self.commitments is not None:
            answer = self.commitments.answer(operation, body)
        if answer is None:
            return 400, {"__type": "ValidationException", "message": f"unsupported {operation}"}
        problem = _invalid("ce", operation, answer, "output")
        if problem is not None:
            self.invalid.append(f"{operation} answer: {problem}")
            return 500, {"__type": "InternalServerError", "message": problem}
        return 200, answer

    def answer_ec2(self, form: dict[str, str]) -> tuple[int, str]:
        """EC2's query protocol: (status, XML)."""
        operation = form.get("Action", "")
        self.requests.append((f"ec2.{operation}", dict(form)))
        if self.commitments is None or operation not in EC2_OPERATIONS:
            return 400, _ec2_error("InvalidAction", f"unsupported {operation}")
        try:
            params = _ec2_params(operation, form)
        except ValueError as bad:
            self.invalid.append(f"{operation} request: {bad}")
            return 400, _ec2_error("UnknownParameter", str(bad))
        problem = _invalid("ec2", operation, params, "input")
        if problem is not None:
            self.invalid.append(f"{operation} request: {problem}")
            return 400, _ec2_error("InvalidParameterValue", problem)
        if self.ec2_throttle > 0:
            self.ec2_throttle -= 1
            return 503, _ec2_error("RequestLimitExceeded", "Request limit exceeded.")
        answer = self.commitments.ec2(operation, params) or {}
        problem = _invalid("ec2", operation, answer, "output")
        if problem is not None:
            self.invalid.append(f"{operation} answer: {problem}")
            return 500, _ec2_error("InternalError", problem)
        return 200, _ec2_xml(operation, answer)


EC2_OPERATIONS = ("DescribeCapacityReservations", "DescribeCapacityBlockOfferings")
_MODELS: dict[str, Any] = {}


def _model(service: str) -> Any:
    if service not in _MODELS:
        import botocore.session

        _MODELS[service] = botocore.session.get_session().get_service_model(service)
    return _MODELS[service]


def _invalid(service: str, operation: str, params: dict, which: str) -> str | None:
    """What botocore's model says is wrong with ``params`` as ``operation``'s input or output."""
    from botocore.validate import ParamValidator

    try:
        model = _model(service).operation_model(operation)
    except Exception:  # not an operation of the service at all
        return f"{operation} is not a {service} operation"
    shape = model.input_shape if which == "input" else model.output_shape
    if shape is None:
        return None
    report = ParamValidator().validate(params, shape)
    return report.generate_report() if report.has_errors() else None


def _ec2_params(operation: str, form: dict[str, str]) -> dict[str, Any]:
    """The query-protocol form back into botocore params (scalars and lists of scalars)."""
    from botocore.utils import parse_timestamp

    shape = _model("ec2").operation_model(operation).input_shape
    names = {
        member.serialization.get("name", name): (name, member)
        for name, member in shape.members.items()
    }
    params: dict[str, Any] = {}
    for key, value in form.items():
        if key in ("Action", "Version"):
            continue
        head, _, index = key.partition(".")
        if head not in names:
            raise ValueError(f"unknown parameter {key}")
        name, member = names[head]
        if member.type_name == "list":
            if not index.isdigit():
                raise ValueError(f"unsupported list parameter {key}")
            params.setdefault(name, []).append(value)
            continue
        convert = {"integer": int, "boolean": lambda v: v == "true", "timestamp": parse_timestamp}
        params[name] = convert.get(member.type_name, str)(value)
    return params


def _ec2_error(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        "</Error></Errors><RequestID>fake-request</RequestID></Response>"
    )


def _xml_value(shape: Any, value: Any) -> str:
    if shape.type_name == "structure":
        parts = []
        for name, member in shape.members.items():
            if name in value:
                tag = member.serialization.get("name", name[:1].lower() + name[1:])
                parts.append(f"<{tag}>{_xml_value(member, value[name])}</{tag}>")
        return "".join(parts)
    if shape.type_name == "list":
        tag = shape.member.serialization.get("name", "item")
        return "".join(f"<{tag}>{_xml_value(shape.member, v)}</{tag}>" for v in value)
    if shape.type_name == "timestamp":
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return escape(str(value))


def _ec2_xml(operation: str, answer: dict[str, Any]) -> str:
    shape = _model("ec2").operation_model(operation).output_shape
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{operation}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        f"<requestId>fake-request</requestId>{_xml_value(shape, answer)}</{operation}Response>"
    )


@contextmanager
def fake_cost_explorer(**behaviour: object) -> Iterator[FakeCostExplorer]:
    state = FakeCostExplorer(**behaviour)  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                status, text = state.answer_ec2(dict(parse_qsl(raw.decode())))
                data, kind = text.encode(), "text/xml;charset=UTF-8"
            else:
                body = json.loads(raw or b"{}")
                status, payload = state.answer(self.headers.get("X-Amz-Target", ""), body)
                data, kind = json.dumps(payload, default=str).encode(), "application/x-amz-json-1.1"
            self.send_response(status)
            self.send_header("Content-Type", kind)
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
