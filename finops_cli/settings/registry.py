"""Everything derived from the settings' declarations: env table, help, flags, masking, guards.

Each setting is declared once, as a field of a table in :mod:`finops_cli.settings.tables`; this
module walks those declarations so that no list here can fall out of step with them. Adding a
setting with ``env=`` and ``flag=`` adds its variable, its ``--help`` line, its typer option,
its flag mapping and its masking, with nothing else to edit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from typing import Any

from finops_cli.config_checks import Checked, Rule, SecretStr
from finops_cli.settings.tables import Settings

CONFIG_ENV_VAR = "FINOPS_CONFIG"
Loc = tuple[str, ...]


def declarations(table: type[Checked] = Settings, parent: Loc = ()) -> Iterator[tuple[Loc, Rule]]:
    """Every leaf setting under ``table`` with its location, in declaration order."""
    for name, rule in table.RULES.items():
        if rule.section is not None:
            yield from declarations(rule.section, (*parent, name))
        else:
            yield (*parent, name), rule


DECLARED: dict[Loc, Rule] = dict(declarations())

ENVIRONMENT_VARIABLES: dict[str, str] = {
    rule.env: ".".join(loc) for loc, rule in DECLARED.items() if rule.env
}
"""Environment variable -> the dotted setting it sets. Empty variables count as unset."""

ENVIRONMENT_VARIABLE_HELP: dict[str, str] = {
    CONFIG_ENV_VAR: "Path of a TOML file to use instead of the discovered finops.toml files.",
    **{rule.env: rule.help for rule in DECLARED.values() if rule.env},
}
"""One line per variable, FINOPS_CONFIG included, for ``--help`` epilogs and the docs."""

SENSITIVE: frozenset[Loc] = frozenset(
    loc for loc, rule in DECLARED.items() if rule.secret or rule.hidden_input
)
"""Settings whose input an error never echoes: secrets, URLs (credentials ride in them), paths."""

REDIRECTS: frozenset[Loc] = frozenset(
    loc for loc, r in DECLARED.items() if r.guard in ("redirect", "both")
)
"""Settings that choose where credentials go or how they are protected (the trust model)."""

CREDENTIALS: frozenset[Loc] = frozenset(
    loc for loc, r in DECLARED.items() if r.guard in ("credential", "both")
)
"""Settings that are, or carry, a credential."""


def flag_parameter(rule: Rule) -> str:
    """The Python parameter name of a flag: ``--prometheus-url`` -> ``prometheus_url``."""
    assert rule.flag is not None
    first = rule.flag.split()[0].split("/")[0]
    return first.lstrip("-").replace("-", "_")


FLAGS: dict[str, tuple[Loc, Rule]] = {
    flag_parameter(rule): (loc, rule) for loc, rule in DECLARED.items() if rule.flag
}
"""Parameter name of each settings flag -> the setting it sets, in declaration order."""


def settings_from_flags(options: Mapping[str, Any]) -> dict[str, object]:
    """The dotted settings that the given flags set (``None``: the flag was not given)."""
    flags: dict[str, object] = {}
    for name, (loc, rule) in FLAGS.items():
        value = options.get(name)
        if value is None or value == []:
            continue
        if isinstance(value, enum.Enum):
            value = value.value
        if rule.flag_to is not None:
            flags.update(rule.flag_to(value))
        else:
            flags[".".join(loc)] = list(value) if isinstance(value, list | tuple) else value
    return flags


def typer_options(panel: str) -> list[tuple[str, Any, Any]]:
    """``(parameter, Annotated[type, typer.Option(...)], default)`` for each settings flag.

    Built from the declarations, so ``--help`` shows every flag with its help and its variable.
    typer and click are imported by the CLI anyway; building these few objects costs well under
    a millisecond.
    """
    from typing import Annotated

    import typer

    options: list[tuple[str, Any, Any]] = []
    for name, (_, rule) in FLAGS.items():
        assert rule.flag is not None
        kind: Any = rule.flag_type
        choices = isinstance(kind, tuple)
        if choices:  # a fixed set of choices, which typer takes as an Enum
            members = {choice: choice for choice in rule.flag_type}
            kind = enum.StrEnum(name.title(), members)  # type: ignore[misc,no-redef]
        env = f" Env: {rule.env}." if rule.env else ""
        option = typer.Option(
            *rule.flag.split(),
            metavar=rule.metavar if kind is not bool and not choices else None,
            help=rule.help + env,
            rich_help_panel=panel,
            show_default=False,
        )
        options.append((name, Annotated[kind | None, option], None))
    return options


def _mask_webhook(url: str) -> str:
    """A webhook's path is its key (Slack): only the scheme and host are shown."""
    from finops_cli.redact import MASK, mask_url

    masked = mask_url(url)
    scheme, sep, rest = masked.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host}{slash}{MASK}" if path else masked


def _masked(rule: Rule, value: object) -> object:
    # redact is imported where a value is masked: ``--help`` needs the declarations only.
    from finops_cli.redact import MASK, mask_url

    if value is None:
        return None
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if rule.secret == "headers" and isinstance(value, Mapping):
        return dict.fromkeys(value, MASK)
    if not isinstance(text, str):
        return MASK
    if rule.secret == "url":
        return mask_url(text)
    if rule.secret == "webhook":
        return _mask_webhook(text)
    return MASK


def mask_secrets(settings: Settings, data: dict[str, Any]) -> None:
    """Replace, in ``data`` (``plain(settings)``), every secret-bearing value by its mask."""
    for loc, rule in DECLARED.items():
        if not rule.secret:
            continue
        value: Any = settings
        node: Any = data
        for part in loc:
            value = getattr(value, part)
        for part in loc[:-1]:
            node = node[part]
        node[loc[-1]] = _masked(rule, value)


def secret_values(settings: Settings) -> list[str]:
    """The raw secret texts in ``settings``, for ``mask_text`` over server or log text."""
    found: list[str] = []
    for loc, rule in DECLARED.items():
        if not rule.secret:
            continue
        value: Any = settings
        for part in loc:
            value = getattr(value, part)
        values = value.values() if isinstance(value, Mapping) else [value]
        found += [v.get_secret_value() if isinstance(v, SecretStr) else str(v) for v in values if v]
    return found


__all__ = [
    "CONFIG_ENV_VAR",
    "CREDENTIALS",
    "DECLARED",
    "ENVIRONMENT_VARIABLES",
    "ENVIRONMENT_VARIABLE_HELP",
    "FLAGS",
    "REDIRECTS",
    "SENSITIVE",
    "declarations",
    "mask_secrets",
    "secret_values",
    "settings_from_flags",
    "typer_options",
]
