"""boto3 sessions and clients for the bill sources, and AWS failures as one-line errors.

Credentials, region and endpoint come from boto3's own configuration chain (profile, environment,
SSO, container or instance role, ``AWS_ENDPOINT_URL``); finops only passes a profile through.
boto3 is imported here, lazily, never at CLI start-up. Throttling is retried by botocore's
``standard`` retry mode (which treats ``LimitExceededException`` as throttling) with exponential
backoff and jitter; what still fails becomes a ``FinopsError`` that says what to do.
"""

from __future__ import annotations

import re
from typing import Any

from finops_cli.errors import FinopsError, SourceError, UsageError

MAX_ATTEMPTS = 6  # the first try and five retries: about a minute of backoff at most
GLOBAL_REGION = "us-east-1"  # Cost Explorer's endpoint, whatever region a profile names

_SECRETISH = re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b|\b[A-Za-z0-9/+=]{40}\b")


def scrub(message: str, limit: int = 300) -> str:
    """One line, no access key ids or secret-looking tokens, at most ``limit`` characters."""
    text = " ".join(str(message).split())
    text = _SECRETISH.sub("***", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quiet_aws_logs() -> None:
    """botocore's debug logs print request headers (the access key id among them): never shown,
    not even with --debug."""
    import logging

    for name in ("boto3", "botocore", "urllib3", "s3transfer"):
        logging.getLogger(name).setLevel(logging.WARNING)


def session(profile: str | None) -> Any:
    """A boto3 session for ``profile`` (None: boto3's default chain)."""
    import boto3
    import botocore.exceptions

    quiet_aws_logs()

    try:
        return boto3.Session(profile_name=profile)
    except botocore.exceptions.ProfileNotFound:
        raise UsageError(
            f"AWS profile {profile!r} not found in ~/.aws/config: check --profile or "
            "FINOPS_AWS_PROFILE (aws configure list-profiles shows them)"
        ) from None


def client(service: str, boto_session: Any, region: str | None) -> Any:
    """A client with standard-mode retries; ``region`` None uses the session's region."""
    import botocore.config
    import botocore.exceptions

    config = botocore.config.Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="finops-cli",
    )
    try:
        return boto_session.client(service, region_name=region, config=config)
    except botocore.exceptions.NoRegionError:
        raise UsageError(
            f"no AWS region for {service}: set billing.aws_region, FINOPS_AWS_REGION or AWS_REGION"
        ) from None
    except botocore.exceptions.BotoCoreError as err:
        raise translate(err, service, "client") from None


def access_key_fingerprint(boto_session: Any) -> str:
    """A short hash of the access key id, so cached answers never cross accounts; '' if none."""
    import hashlib

    try:
        credentials = boto_session.get_credentials()
    except Exception:  # expired SSO and friends surface on the real call
        return ""
    if credentials is None:
        return ""
    return hashlib.sha256(str(credentials.access_key).encode()).hexdigest()[:16]


_CREDENTIAL_CODES = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
}
_DENIED_CODES = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"}

_PERMISSIONS = {
    "ce": "ce:GetCostAndUsage and ce:GetCostForecast",
    "athena": "athena:StartQueryExecution, athena:GetQueryExecution, athena:GetQueryResults, "
    "athena:GetTableMetadata, glue:GetTable and s3 read/write on the output location",
}
_PERMISSIONS["ec2"] = "ec2:DescribeCapacityReservations and ec2:DescribeCapacityBlockOfferings"
_NAMES = {"ce": "Cost Explorer", "athena": "Athena", "ec2": "EC2"}


def _permission(service: str, operation: str) -> str:
    """The IAM action a denied call needs: Cost Explorer's commitment reports name their own."""
    if service == "ce" and operation not in ("get_cost_and_usage", "get_cost_forecast", "client"):
        return "ce:" + "".join(word.capitalize() for word in operation.split("_"))
    return _PERMISSIONS.get(service, "access")


def translate(err: BaseException, service: str, operation: str) -> FinopsError:
    """Any boto error as the one line a user needs: what failed and what to do about it."""
    import botocore.exceptions as bx

    name = _NAMES.get(service, service)
    if isinstance(err, bx.NoCredentialsError | bx.PartialCredentialsError):
        return UsageError(
            "no AWS credentials found: configure a profile (aws configure, or aws sso login) and "
            "pass --profile or FINOPS_AWS_PROFILE, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; "
            "or read a FOCUS export with --focus PATH (--source sample shows the sample bill)"
        )
    if isinstance(err, bx.ProfileNotFound):
        return UsageError(f"{scrub(str(err))}: check --profile or FINOPS_AWS_PROFILE")
    if isinstance(err, bx.NoRegionError):
        return UsageError(
            f"no AWS region for {name}: set billing.aws_region, FINOPS_AWS_REGION or AWS_REGION"
        )
    sso_errors = tuple(
        getattr(bx, n)
        for n in ("SSOTokenLoadError", "UnauthorizedSSOTokenError", "TokenRetrievalError")
        if hasattr(bx, n)
    )
    if sso_errors and isinstance(err, sso_errors):
        return UsageError(
            "the AWS SSO session has expired or was never started: run aws sso login "
            "(with --profile PROFILE) and retry"
        )
    if isinstance(err, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return SourceError(f"cannot reach AWS {name}: {scrub(str(err))}; check the network/proxy")
    if isinstance(err, bx.ClientError):
        return _client_error(err, service, name, operation)
    if isinstance(err, bx.BotoCoreError):
        return SourceError(f"AWS {name} {operation} failed: {scrub(str(err))}")
    return SourceError(f"AWS {name} {operation} failed: {type(err).__name__}: {scrub(str(err))}")


def _client_error(err: Any, service: str, name: str, operation: str) -> FinopsError:
    error = err.response.get("Error", {}) if isinstance(err.response, dict) else {}
    code = str(error.get("Code", "Unknown"))
    message = scrub(str(error.get("Message", "")))
    lowered = message.lower()
    if code in _DENIED_CODES and "not enabled for cost explorer" in lowered:
        return SourceError(
            "Cost Explorer is not enabled for this account: open Billing and Cost Management > "
            "Cost Explorer once (as the management account) to enable it; data appears within "
            "24 hours. Meanwhile read a FOCUS export with --focus PATH"
        )
    if code in _DENIED_CODES:
        return SourceError(
            f"AWS denied {name} {operation} ({code}): grant {_permission(service, operation)} "
            "(e.g. the AWSBillingReadOnlyAccess policy) or use a profile that has them"
        )
    if code in _CREDENTIAL_CODES:
        return UsageError(
            f"AWS rejected the credentials ({code}): refresh them (aws sso login, or new keys) "
            "or pick another --profile"
        )
    if code in ("LimitExceededException", "ThrottlingException", "TooManyRequestsException"):
        return SourceError(
            f"AWS {name} kept throttling ({code}) after {MAX_ATTEMPTS} attempts: wait a minute "
            "and retry (cached answers cost nothing)"
        )
    if code == "DataUnavailableException":
        return SourceError(
            f"{name} has no data for this request yet ({code}): Cost Explorer needs up to 24 "
            f"hours after it is enabled, and enough history to forecast{_detail(message)}"
        )
    if code == "BillExpirationException":
        return UsageError(
            "Cost Explorer keeps 13 months of history (38 with multi-year data turned on): "
            "pick a later --start"
        )
    if code == "RequestChangedException":
        return SourceError(f"the bill changed while {name} was paging through it: run it again")
    if code in ("ValidationException", "InvalidRequestException"):
        return UsageError(f"{name} refused the request ({code}){_detail(message)}")
    return SourceError(f"AWS {name} {operation} failed ({code}){_detail(message)}")


def _detail(message: str) -> str:
    return f": {message}" if message else ""
