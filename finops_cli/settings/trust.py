"""The trust model: a cloned repository's ``./finops.toml`` cannot redirect the user's credentials.

The user config (or ``FINOPS_CONFIG``), the environment and the flags are the user's own; the
current directory's ``finops.toml`` comes with whatever repository was checked out. Attack this
stops: the user config holds ``url`` and ``bearer_token``, and a repository's ``finops.toml`` sets
``url = "http://attacker"`` (or ``insecure_skip_tls_verify``, a ``ca_bundle``, headers, a webhook,
an ``extra_catalog``), which would have sent ``Authorization: Bearer <token>`` to the attacker.

Rule: a *redirect* setting (``guard="redirect"`` in its declaration: where credentials go or how
they are protected) that takes effect from the project file is refused (one line, exit 2) when a
*credential* in effect comes from another layer, unless the user trusts the project file
(``--trust-project-config``, ``FINOPS_TRUST_PROJECT_CONFIG=1`` or ``trust_project_config = true``
in the user config; the project file cannot trust itself). Credentials set in the project file
itself may go where it says. Refusing rather than dropping the redirect keeps the run from quietly
querying a different server than the file in front of the user names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from finops_cli.config_checks import SecretStr
from finops_cli.errors import UsageError
from finops_cli.settings.registry import CREDENTIALS, REDIRECTS, Loc
from finops_cli.settings.tables import Settings

TRUST = ("trust_project_config",)
HEADERS = ("prometheus", "headers")  # merged name by name: any from the project file counts
HOW_TO_TRUST = (
    "--trust-project-config, FINOPS_TRUST_PROJECT_CONFIG=1 or trust_project_config = true "
    "in the user config"
)


class LayerLike(Protocol):
    """What the trust check reads from a settings layer (``loading._Layer``)."""

    project: bool
    data: dict[str, Any]

    def has(self, loc: Loc) -> bool: ...
    def origin(self, loc: Loc) -> str: ...


def _value(settings: Settings, loc: Loc) -> Any:
    value: Any = settings
    for part in loc:
        value = getattr(value, part)
    return value


def _header_names(layer: LayerLike) -> set[str]:
    prometheus = layer.data.get("prometheus")
    headers = prometheus.get("headers") if isinstance(prometheus, dict) else None
    return {str(name).lower() for name in headers} if isinstance(headers, dict) else set()


def _credential_origins(
    settings: Settings, layers: Sequence[LayerLike]
) -> list[tuple[Loc, LayerLike]]:
    """Each credential in effect, with the layer it came from (headers: one entry per name)."""
    found: list[tuple[Loc, LayerLike]] = []
    for loc in sorted(CREDENTIALS):
        value = _value(settings, loc)
        if value is None or (isinstance(value, SecretStr | str | dict) and not value):
            continue
        if isinstance(value, dict):  # headers merge name by name, across layers
            for name in value:
                owner = next(
                    (la for la in reversed(layers) if name.lower() in _header_names(la)), None
                )
                if owner is not None:
                    found.append(((*loc, name), owner))
            continue
        owner = next((layer for layer in reversed(layers) if layer.has(loc)), None)
        if owner is not None:
            found.append((loc, owner))
    return found


def check_trust(
    settings: Settings, layers: Sequence[LayerLike], origin_of: Callable[[Loc], str]
) -> None:
    """Refuse a project file's redirect of credentials that come from elsewhere (exit 2)."""
    project = next((layer for layer in layers if layer.project), None)
    if project is None:
        return
    if project.has(TRUST):
        raise UsageError(
            f"{project.origin(TRUST)}: trust_project_config cannot be set in the project's own "
            f"finops.toml; use {HOW_TO_TRUST}"
        )
    if settings.trust_project_config:
        return
    redirects = [
        loc
        for loc in sorted(REDIRECTS)
        if project.has(loc)
        and (loc == HEADERS or next(la for la in reversed(layers) if la.has(loc)) is project)
    ]
    if not redirects:
        return
    foreign = [(loc, la) for loc, la in _credential_origins(settings, layers) if la is not project]
    if not foreign:
        return
    loc, owner = foreign[0]
    shown = ".".join(loc[:2])  # a header's name may itself be sensitive; say "headers"
    raise UsageError(
        f"{project.origin(redirects[0])} sets {', '.join('.'.join(r) for r in redirects)}, "
        f"but {shown} comes from {owner.origin(loc[:2])}: finops does not send credentials "
        f"where a project's finops.toml points; review that file, then pass {HOW_TO_TRUST}"
    )
