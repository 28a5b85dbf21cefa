"""Loading: merge flags, ``FINOPS_*`` variables and ``finops.toml`` files into one ``Settings``.

Precedence is flags > environment > ``finops.toml`` > defaults, so a CI job can pin a value that no
checked-in file can override, and a one-off flag beats everything. The user config directory's
``finops.toml`` and the current directory's are deep-merged (the current directory's wins), which
lets a shared per-user Prometheus setup live alongside per-repository label conventions.
``FINOPS_CONFIG`` / ``--config`` name one file that replaces both, for reproducible runs.

The current directory's file comes with whatever repository was cloned, so it is trusted less:
see :mod:`finops_cli.settings.trust`. Everything a user can get wrong ends as one ``UsageError``
line naming where the value came from; secrets are never echoed, because these lines end up in
CI logs.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finops_cli.config_checks import ConfigError, closest_key
from finops_cli.errors import UsageError
from finops_cli.settings.checks import (
    budget_problems,
    expand,
    headers_input,
    lift_userinfo,
    path_text,
    prometheus_problems,
    source_problems,
)
from finops_cli.settings.registry import CONFIG_ENV_VAR, ENVIRONMENT_VARIABLES, SENSITIVE, Loc
from finops_cli.settings.tables import Settings
from finops_cli.settings.trust import check_trust

APP_NAME = "finops"
CONFIG_FILE_NAME = "finops.toml"

_HEADERS = ("prometheus", "headers")
_CA_BUNDLE = ("prometheus", "ca_bundle")
_EXTRA_CATALOG = ("pricing", "extra_catalog")
_PATHS = (_CA_BUNDLE, _EXTRA_CATALOG)  # relative to the file, or the cwd, that names them
_MAX_SHOWN = 60


@dataclass
class _Layer:
    """One source of settings, nested like the settings, with where each value came from.

    ``project`` marks the current directory's ``finops.toml`` when a user file is also read or
    could be: the one layer a cloned repository controls (see ``trust``).
    """

    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[Loc, str] = field(default_factory=dict)
    project: bool = False

    def origin(self, loc: Loc) -> str:
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.origins:
                return self.origins[loc[:n]]
        return "configuration"

    def has(self, loc: Loc) -> bool:
        node: object = self.data
        for part in loc:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def set(self, loc: Loc, value: object, origin: str) -> None:
        node = self.data
        for part in loc[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[loc[-1]] = value
        self.origins[loc] = origin


def _absolute(value: str | os.PathLike[str], base: Path) -> str:
    """Relative paths mean relative to the file that names them (or the cwd for env and flags)."""
    path = expand(Path(value))
    return str(path if path.is_absolute() else base / path)


def _shown(value: object) -> str | None:
    if not isinstance(value, str | int | float):
        return None
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _usage_error(exc: ConfigError, origin_of: Callable[[Loc], str]) -> UsageError:
    """Turn the problems into one line that never repeats a secret input."""
    problem = exc.problems[0]
    loc = tuple(str(part) for part in problem.loc)
    # Keys come from the user's file: one holding a line break must not break the line.
    dotted = ".".join(p if p.isprintable() else repr(p) for p in loc) or "settings"
    count = len(exc.problems)
    more = f" (and {count - 1} more problem(s))" if count > 1 else ""
    origin = origin_of(loc)
    if problem.kind == "unknown":
        # Only the key: a misspelt `bearer_tokn = "..."` must not print its value.
        close = closest_key(Settings, loc)
        hint = f" (did you mean {'.'.join((*loc[:-1], close))}?)" if close else ""
        return UsageError(f"{origin}: unknown setting {dotted}{hint}{more}")
    message = f"invalid setting {dotted} from {origin}: {problem.reason}"
    quiet = loc[:2] in SENSITIVE  # secrets, URLs, and the CA path the message names itself
    shown = None if quiet else _shown(problem.input)
    if shown is not None:
        message += f" (got {shown})"
    return UsageError(message + more)


def _validate(data: Mapping[str, Any], origin_of: Callable[[Loc], str]) -> Settings:
    try:
        # partial: cross-field rules wait for the merged result (see load_settings)
        return Settings.from_mapping(data, partial=True)
    except ConfigError as exc:
        raise _usage_error(exc, origin_of) from None


def _read_toml(path: Path, origin: str, project: bool = False) -> _Layer:
    import tomllib  # not needed by --help and --version

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path_text(path)}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path_text(path)}: not valid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        detail = " ".join(str(exc).split())
        raise UsageError(f"{path_text(path)}: not valid TOML: {detail}") from None
    # Paths in a finops.toml are relative to that file, wherever finops runs from.
    for section, key in _PATHS:
        table = data.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str):
            table[key] = _absolute(table[key], path.parent)
    return _Layer(data=data, origins={(): origin}, project=project)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return a == b


def _config_layers(
    env: Mapping[str, str], cwd: Path, user_config_dir: Path, config_file: Path | None
) -> list[_Layer]:
    explicit: str | Path | None = config_file
    how = "--config"
    if explicit is None and env.get(CONFIG_ENV_VAR, "").strip():
        explicit, how = env[CONFIG_ENV_VAR].strip(), CONFIG_ENV_VAR
    if explicit is not None:
        path = Path(_absolute(explicit, cwd))
        if not path.exists():
            where = "" if str(path) == str(explicit) else f" ({path_text(path)})"
            raise UsageError(f"{how} {str(explicit)!r}: no such file{where}")
        return [_read_toml(path, f"{path_text(Path(path.name))} ({path_text(path)})")]
    found: list[tuple[Path, bool]] = []
    for directory, project in ((user_config_dir, False), (cwd, True)):
        path = directory / CONFIG_FILE_NAME
        if path.exists() and not any(_same_file(path, other) for other, _ in found):
            found.append((path, project))  # the user's own directory is never the project's
    return [
        _read_toml(path, f"{CONFIG_FILE_NAME} ({path_text(path)})", project=project)
        for path, project in found
    ]


def _given(loc: Loc, value: object, origin: str, cwd: Path) -> object:
    """A value from the environment or a flag as the tables read it: headers parsed, paths made
    absolute against the current directory."""
    try:
        if loc == _HEADERS:
            return headers_input(value)  # text: 'Name: value' entries; a list: one per --header
    except ValueError as exc:
        hint = " (entries are separated by ';' or newlines)" if isinstance(value, str) else ""
        raise UsageError(f"invalid setting {'.'.join(loc)} from {origin}: {exc}{hint}") from None
    if loc in _PATHS and isinstance(value, str | os.PathLike):
        return _absolute(value, cwd)
    return value


def _env_layer(env: Mapping[str, str], cwd: Path) -> _Layer:
    layer = _Layer()
    for name, dotted in ENVIRONMENT_VARIABLES.items():
        raw = env.get(name, "").strip()
        if not raw:
            continue  # `FINOPS_X=` in a CI template means "not set", not "set to nothing"
        if not _is_utf8(raw):  # undecodable bytes, kept by Python as lone surrogates
            raise UsageError(f"invalid setting {dotted} from {name}: not valid UTF-8 text")
        loc = tuple(dotted.split("."))
        layer.set(loc, _given(loc, raw, name, cwd), name)
    return layer


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _flag_layer(flags: Mapping[str, object], cwd: Path) -> _Layer:
    layer = _Layer()
    for dotted, value in flags.items():
        if value is not None:  # None: the flag was not given
            loc = tuple(dotted.split("."))
            layer.set(loc, _given(loc, value, "the command line", cwd), "the command line")
    return layer


def _merge(target: dict[str, Any], source: Mapping[str, Any], loc: Loc = ()) -> None:
    if loc == ("prometheus",):
        # Token and basic auth exclude each other, so the source that picks one drops the other
        # from lower ones: `--basic-auth` overrides a token in finops.toml instead of clashing
        # with it, while a password from the env still pairs with a username from the file.
        if "bearer_token" in source:
            target.pop("username", None)
            target.pop("password", None)
        if "username" in source or "password" in source:
            target.pop("bearer_token", None)
    for key, value in source.items():
        here = (*loc, key)
        current = target.get(key)
        if here == _HEADERS and isinstance(value, dict) and isinstance(current, dict):
            # Header names are case-insensitive: an env `x-scope-orgid` replaces a file's
            # `X-Scope-OrgID` instead of sending both.
            names = {str(name).lower() for name in value}
            target[key] = {k: v for k, v in current.items() if str(k).lower() not in names}
            target[key].update(value)
        elif isinstance(value, dict) and isinstance(current, dict):
            _merge(current, value, here)
        else:
            target[key] = copy.deepcopy(value)


def load_settings(
    flags: Mapping[str, object] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user_config_dir: Path | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge every settings source into one validated ``Settings``, or raise one-line UsageError.

    ``flags`` is keyed by dotted paths (``"prometheus.url"``); a None value is a flag not given.
    Each source is validated on its own first, so an error names the exact file or variable.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    if user_config_dir is None:
        import platformdirs

        user_config_dir = Path(platformdirs.user_config_dir(APP_NAME))

    layers = _config_layers(env, cwd, user_config_dir, config_file)
    layers.append(_env_layer(env, cwd))
    layers.append(_flag_layer(flags or {}, cwd))
    for layer in layers:
        prometheus = layer.data.get("prometheus")
        if isinstance(prometheus, dict):
            before = set(prometheus)
            lift_userinfo(prometheus)
            for key in set(prometheus) - before:
                layer.origins[("prometheus", key)] = layer.origin(("prometheus", "url"))
        _validate(layer.data, layer.origin)

    def origin_of(loc: Loc) -> str:
        for layer in reversed(layers):
            if layer.has(loc):
                return layer.origin(loc)
        return "the defaults"

    merged: dict[str, Any] = {}
    for layer in layers:
        _merge(merged, layer.data)
    settings = _validate(merged, origin_of)
    problems = (
        source_problems(settings)
        + budget_problems(settings.budgets)
        + [
            (("prometheus", *loc), reason)
            for loc, reason in prometheus_problems(settings.prometheus)
        ]
    )
    for loc, reason in problems:
        raise UsageError(f"invalid setting {'.'.join(loc)} from {origin_of(loc)}: {reason}")
    check_trust(settings, layers, origin_of)
    return settings
