"""JSON schemas for the custom resources the manifests use (External Secrets Operator v1).

``kubernetes-validate`` knows only built-in kinds; these cover the fields of ExternalSecret and
SecretStore that the eks overlay and the multi-cluster component use, as the upstream CRDs define
them (``external-secrets.io/v1``), with unknown fields refused so a typo cannot pass.
"""

from __future__ import annotations

from typing import Any

_STR: dict[str, Any] = {"type": "string", "minLength": 1}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


_METADATA = {
    "type": "object",
    "properties": {
        "name": _STR,
        "namespace": _STR,
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["name", "namespace"],
    "additionalProperties": False,
}

_REMOTE_REF = _obj(
    {
        "key": _STR,
        "property": _STR,
        "version": _STR,
        "conversionStrategy": {"enum": ["Default", "Unicode"]},
        "decodingStrategy": {"enum": ["Auto", "Base64", "Base64URL", "None"]},
    },
    ["key"],
)

EXTERNAL_SECRET = _obj(
    {
        "apiVersion": {"const": "external-secrets.io/v1"},
        "kind": {"const": "ExternalSecret"},
        "metadata": _METADATA,
        "spec": _obj(
            {
                "refreshInterval": {
                    "type": "string",
                    "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$",
                },
                "secretStoreRef": _obj(
                    {"name": _STR, "kind": {"enum": ["SecretStore", "ClusterSecretStore"]}},
                    ["name"],
                ),
                "target": _obj(
                    {
                        "name": _STR,
                        "creationPolicy": {"enum": ["Owner", "Orphan", "Merge", "None"]},
                        "deletionPolicy": {"enum": ["Delete", "Merge", "Retain"]},
                        "immutable": {"type": "boolean"},
                        "template": _obj(
                            {
                                "engineVersion": {"enum": ["v2"]},
                                "type": _STR,
                                "data": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                            }
                        ),
                    }
                ),
                "data": {
                    "type": "array",
                    "items": _obj(
                        {"secretKey": _STR, "remoteRef": _REMOTE_REF}, ["secretKey", "remoteRef"]
                    ),
                },
            },
            ["secretStoreRef"],
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
)

SECRET_STORE = _obj(
    {
        "apiVersion": {"const": "external-secrets.io/v1"},
        "kind": {"const": "SecretStore"},
        "metadata": _METADATA,
        "spec": _obj(
            {
                "provider": _obj(
                    {
                        "aws": _obj(
                            {
                                "service": {"enum": ["SecretsManager", "ParameterStore"]},
                                "region": _STR,
                                "role": _STR,
                                "auth": _obj(
                                    {
                                        "jwt": _obj(
                                            {"serviceAccountRef": _obj({"name": _STR}, ["name"])},
                                            ["serviceAccountRef"],
                                        )
                                    }
                                ),
                            },
                            ["service", "region"],
                        )
                    }
                )
            },
            ["provider"],
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
)

SCHEMAS = {
    ("external-secrets.io/v1", "ExternalSecret"): EXTERNAL_SECRET,
    ("external-secrets.io/v1", "SecretStore"): SECRET_STORE,
}
