"""Kubernetes label keys and the Prometheus label names they become.

Attribution is configured with the Kubernetes keys people put on their pods (``ai-finops.io/team``)
but queried through kube-state-metrics, which renames every key before Prometheus sees it. Keeping
that renaming in one place means a configured key and the series it selects can never drift apart.
"""

from __future__ import annotations

import re

# kube-state-metrics (internal/store/utils.go): SanitizeLabelName, then toSnakeCase.
_INVALID_CHAR = re.compile(r"[^a-zA-Z0-9_]")
_CAMEL_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")

# apimachinery's IsQualifiedName: an optional DNS-subdomain prefix and a 63-character name.
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_PROMETHEUS_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

_MAX_NAME = 63
_MAX_PREFIX = 253


def kube_label_to_prometheus(key: str, prefix: str = "label_") -> str:
    """Name the Prometheus label kube-state-metrics exports for a Kubernetes label or annotation.

    ``kube_pod_labels`` carries ``ai-finops.io/team`` as ``label_ai_finops_io_team``; annotations
    use ``prefix="annotation_"``. The camelCase step runs on the already-sanitised key, as KSM does,
    so ``managedBy`` becomes ``managed_by`` but ``ABC`` stays ``abc`` with no underscores.
    """
    sanitised = _INVALID_CHAR.sub("_", key)
    return prefix + _CAMEL_BOUNDARY.sub(r"\1_\2", sanitised).lower()


def label_key_problem(key: str) -> str | None:
    """Say why ``key`` cannot be a Kubernetes label or annotation key, or None if it can.

    A key Kubernetes would reject can never match a pod, so accepting one would silently attribute
    every cost to "unallocated"; refusing it at configuration time points at the typo instead.
    """
    if not key:
        return "must not be empty"
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "has an empty prefix before '/'"
    if len(name) > _MAX_NAME:
        return f"name part must be at most {_MAX_NAME} characters"
    if not _QUALIFIED_NAME.fullmatch(name):
        return (
            "must be a Kubernetes label key: [prefix/]name, the name made of letters, digits, "
            "'-', '_' and '.', starting and ending with a letter or digit"
        )
    if prefix and (len(prefix) > _MAX_PREFIX or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return "prefix before '/' must be a lowercase DNS subdomain such as example.com"
    return None


def prometheus_label_name_problem(name: str) -> str | None:
    """Say why ``name`` cannot be a Prometheus label name, or None if it can.

    Names starting with ``__`` are reserved for Prometheus itself and never survive ingestion, so a
    cluster label spelled that way would match nothing.
    """
    if not _PROMETHEUS_LABEL_NAME.fullmatch(name):
        return "must be a Prometheus label name: letters, digits and '_', not starting with a digit"
    if name.startswith("__"):
        return "must not start with '__' (reserved for Prometheus internals)"
    return None
