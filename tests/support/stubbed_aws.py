"""A boto3 client with botocore's Stubber on it: requests and answers checked against the real
AWS API model, no network. Credentials are fake and never printed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.stub import Stubber

FAKE_KEY = "AKIAIOSFODNN7EXAMPLE"
FAKE_SECRET = "x" * 40


@contextmanager
def stubbed_client(
    service: str, region: str = "us-east-1", **kw: Any
) -> Iterator[tuple[Any, Stubber]]:
    """``(client, stubber)``; on leaving, every queued answer must have been asked for."""
    kw.setdefault("aws_access_key_id", FAKE_KEY)
    kw.setdefault("aws_secret_access_key", FAKE_SECRET)
    client = boto3.client(service, region_name=region, **kw)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
