"""The small validation layer under the settings: coerce one value, collect every problem.

Stdlib only, because it runs on every ``finops`` invocation (a third-party validation library
cost about 0.15 s of start-up). Coercion is lax where configuration arrives as text: environment
strings such as ``"3"`` become ints, ``"0.5"`` floats, ``"yes"`` booleans, and ints count as
floats. The wording of every problem is our own and fits after ``invalid setting X from Y:``.
A check reports a bad value by raising ``ConfigError`` (a ``ValueError``) with its problems,
located relative to the value checked, so a table can prefix them with the key that holds it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import reprlib
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

T = TypeVar("T")
C = TypeVar("C", bound="Checked")

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_MAX_DIGITS = 4300  # Python's own limit on int() of a string


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a settings input.

    ``kind`` is ``unknown`` (a key that is no setting), ``missing``, ``table`` (a section that is
    not a table) or ``value`` (anything else). ``reason`` is the one-line explanation; ``input``
    is the offending value, echoed only where the loader knows it is safe.
    """

    loc: tuple[str | int, ...]
    kind: str
    reason: str
    input: object = None

    @property
    def message(self) -> str:
        """The same text as ``reason``; kept for callers written before the two were one."""
        return self.reason

    def under(self, *parents: str | int) -> Problem:
        return dataclasses.replace(self, loc=(*parents, *self.loc))


class ConfigError(ValueError):
    """Every problem found in one settings input, in the order the fields are declared."""

    def __init__(self, problems: Iterable[Problem], title: str = "settings") -> None:
        self.problems = tuple(problems)
        lines = [f"{len(self.problems)} invalid value(s) in {title}:"]
        for problem in self.problems:  # inputs are left out: they may be secrets
            where = ".".join(str(part) for part in problem.loc) or title
            lines.append(f"  {where}: {problem.reason}")
        super().__init__("\n".join(lines))


def invalid(reason: str, value: object, kind: str = "value") -> ConfigError:
    """The error for one bad value (raise it)."""
    return ConfigError([Problem((), kind, reason, value)])


class SecretStr:
    """Text that never shows in a repr, a str or ``describe()``: a token, password or URL."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __repr__(self) -> str:
        return f"SecretStr('{self}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and self._value == other._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)


# --- one value ------------------------------------------------------------------------------


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else repr(bound)


def _check_bounds(
    number: float, value: object, gt: float | None, ge: float | None, le: float | None
) -> None:
    if gt is not None and not number > gt:
        raise invalid(f"must be greater than {_number(gt)}", value)
    if ge is not None and not number >= ge:
        raise invalid(f"must be at least {_number(ge)}", value)
    if le is not None and not number <= le:
        raise invalid(f"must be at most {_number(le)}", value)


def _text_of(value: object) -> str | None:
    """The text in a str (or UTF-8 bytes); None for anything else."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _parse_number(text: str) -> float | None:
    """Python's own float syntax, ASCII only: ``"\u0663"`` (an Arabic-Indic 3) is no number."""
    text = text.strip()
    if not text.isascii() or len(text) > _MAX_DIGITS:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def to_bool(value: object) -> bool:
    """true/false, 1/0, yes/no, on/off, t/f, y/n in any case, and the numbers 0 and 1."""
    if isinstance(value, bool):
        return value
    text = _text_of(value)
    if text is not None and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise invalid("must be true or false (1/0 and yes/no also work)", value)


def to_int(value: object, *, ge: float | None = None, le: float | None = None) -> int:
    """A whole number; "3", "3.0" and 3.0 count, 3.5 does not. True is 1: refuse it before."""
    number: float | None
    if isinstance(value, int | float):
        number = value
    else:
        text = _text_of(value)
        number = None if text is None else _parse_number(text)
        if text is not None and number is not None and "e" in text.lower():
            number = None  # "1e3" is a float's spelling, not a count's
    if number is None:
        raise invalid("must be a whole number", value)
    if isinstance(number, float):
        if not math.isfinite(number):
            raise invalid("must be a finite number", value)
        if not number.is_integer():
            raise invalid("must be a whole number", value)
        number = int(number)
    _check_bounds(number, value, None, ge, le)
    return int(number)


def to_float(
    value: object,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
) -> float:
    """A finite number within the bounds; ints and numeric strings count. True is 1.0."""
    number: float | None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise invalid("must be a finite number", value) from None
    else:
        text = _text_of(value)
        number = None if text is None else _parse_number(text)
    if number is None:
        raise invalid("must be a number", value)
    if not math.isfinite(number):
        raise invalid("must be a finite number", value)
    _check_bounds(number, value, gt, ge, le)
    return number


def to_str(value: object) -> str:
    """Text; a number is not text (``currency = 840`` is refused, not read as "840")."""
    text = _text_of(value)
    if text is None:
        raise invalid("must be text", value)
    return text


def to_secret(value: object) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(to_str(value))


def to_path(value: object) -> Path:
    if isinstance(value, Path):
        return value
    if isinstance(value, str | os.PathLike):
        return Path(value)
    raise invalid("must be a file path", value)


def choice(*choices: str) -> Callable[[object], str]:
    """One of ``choices`` exactly, e.g. ``'auto', 'sample' or 'prometheus'``."""
    quoted = [repr(c) for c in choices]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]

    def check(value: object) -> str:
        if isinstance(value, str) and value in choices:
            return str.__str__(value)
        raise invalid(f"must be {listed}", value)

    return check


def refuse_bool(message: str) -> Callable[[object], object]:
    """A ``Rule.prepare`` for a number: lax reading would take TOML's ``true`` as 1."""

    def prepare(value: object) -> object:
        if isinstance(value, bool):
            raise ValueError(message)
        return value

    return prepare


def number_in(
    *, gt: float | None = None, ge: float | None = None, le: float | None = None
) -> Callable[[object], float]:
    """``to_float`` with these bounds, for a ``Rule``."""
    return lambda value: to_float(value, gt=gt, ge=ge, le=le)


def whole_number_in(*, ge: float | None = None, le: float | None = None) -> Callable[[object], int]:
    """``to_int`` with these bounds, for a ``Rule``."""
    return lambda value: to_int(value, ge=ge, le=le)


def optional(convert: Callable[[object], T]) -> Callable[[object], T | None]:
    """None stays None (unset); anything else goes through ``convert``."""

    def check(value: object) -> T | None:
        return None if value is None else convert(value)

    return check


def _collect(
    items: Iterable[tuple[str | int, object, object]], run: Callable[[object, object], None]
) -> None:
    """``run(key, item)`` for every item, then one ConfigError with all problems, each located."""
    problems: list[Problem] = []
    for where, key, item in items:
        try:
            run(key, item)
        except ConfigError as exc:
            problems += [p.under(where) for p in exc.problems]
    if problems:
        raise ConfigError(problems)


def tuple_of(convert: Callable[[object], T]) -> Callable[[object], tuple[T, ...]]:
    """A list (or other sequence) whose items each pass ``convert``; problems name the index."""

    def check(value: object) -> tuple[T, ...]:
        if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
            raise invalid("must be a list", value)
        out: list[T] = []
        _collect(
            ((i, i, item) for i, item in enumerate(value)), lambda _, v: out.append(convert(v))
        )
        return tuple(out)

    return check


def table_of(convert: Callable[[object], T]) -> Callable[[object], dict[str, T]]:
    """A table of names to values that each pass ``convert``; problems name the key."""

    def check(value: object) -> dict[str, T]:
        if not isinstance(value, Mapping):
            raise invalid("must be a table of names to values", value)
        result: dict[str, T] = {}

        def one(key: object, item: object) -> None:
            if not isinstance(key, str):
                raise invalid("names must be text", key)
            result[key] = convert(item)

        _collect(((str(k), k, v) for k, v in value.items()), one)
        return result

    return check


# --- one table ------------------------------------------------------------------------------

_REQUIRED: Any = object()  # the default of a field that must be given
REQUIRED: Any = _REQUIRED
"""``setting(REQUIRED, ...)``: a field with no default, whose omission is a problem."""
_NO_DEFAULT: Any = dataclasses.MISSING


def required() -> Any:
    """Default of a field that has none: omitting it is a problem, not a TypeError."""
    return dataclasses.field(default=_REQUIRED)


@dataclasses.dataclass(frozen=True)
class Rule:
    """Everything about one setting but its name, type and default (the dataclass field's).

    Checking: ``prepare`` first rewrites the raw input (``"1m"`` -> ``60.0``); ``convert`` checks
    type and bounds; each of ``checks`` then validates (and may normalise) the converted value,
    raising a plain ``ValueError`` whose text is the reason. ``section`` makes the field a nested
    table whose cross-field rules wait, like its parent's, until every source is merged.

    Declaring: ``env`` is the ``FINOPS_*`` variable, ``flag`` the shared command-line option
    (``metavar``, ``flag_type`` and ``flag_to`` shape it), ``help`` the one line shown for both,
    ``secret`` how descriptions mask it (``"value"``, ``"url"``, ``"webhook"`` or ``"headers"``)
    and ``guard`` its part in the trust model (``"redirect"``: it picks where credentials go or
    how they are protected; ``"credential"``: it is one; ``"both"``). ``hidden_input``: errors
    do not echo the value (a path the message already names). The env table, the env help, the
    typer options, the flag mapping and the masking are all derived from these, so a setting is
    declared once.
    """

    convert: Callable[[object], object] = lambda value: value
    prepare: Callable[[object], object] | None = None
    checks: tuple[Callable[[Any], object], ...] = ()
    section: type[Checked] | None = None
    env: str | None = None
    flag: str | None = None
    help: str = ""
    metavar: str | None = None
    flag_type: Any = str
    flag_to: Callable[[Any], Mapping[str, object]] | None = None
    secret: str | None = None
    guard: str | None = None
    hidden_input: bool = False

    def apply(self, given: object, partial: bool) -> object:
        value = given if self.prepare is None else _own_rule(self.prepare, given, given)
        if self.section is not None:
            return self.section.from_mapping(value, partial=partial)
        result = self.convert(value)  # its problems show the prepared value
        for check in self.checks:
            result = _own_rule(check, result, given)  # theirs show the value as given
        return result

    def but(self, **changes: Any) -> Rule:
        """This rule with its declaration details set: share a check, declare each setting."""
        return dataclasses.replace(self, **changes)


def setting(default: Any = _NO_DEFAULT, rule: Rule | None = None, **declared: Any) -> Any:
    """One setting's declaration, as a dataclass field: default, check, env, flag and help.

    ``default`` may be a class, called for each instance (``dict``: a mutable default), or
    ``REQUIRED``; ``rule`` holds the check and ``declared`` the rest (see ``Rule``);
    ``@settings_table`` turns the fields of a class into its ``RULES``.
    """
    full = (rule or Rule()).but(**declared)
    if callable(default) and isinstance(default, type):
        return dataclasses.field(default_factory=default, metadata={"rule": full})
    return dataclasses.field(default=default, metadata={"rule": full})


def section(cls: type[Checked]) -> Any:
    """A field holding a nested settings table, built from its defaults when not given."""
    return dataclasses.field(default_factory=cls, metadata={"rule": Rule(section=cls)})


# setting()/section() are not listed as field specifiers: type checkers then read their result as
# the field's default (every declared setting has one; REQUIRED is checked at run time).
@typing.dataclass_transform(
    kw_only_default=True, frozen_default=True, field_specifiers=(dataclasses.field,)
)
def settings_table(cls: type[C]) -> type[C]:
    """Make ``cls`` a frozen keyword-only dataclass whose ``RULES`` come from its fields.

    Every field must be declared with ``setting()`` or ``section()``, and a declaration with a
    variable or flag must have its help: a half-declared setting fails at import, in every test.
    """
    # ``Checked`` holds what ``@dataclass(frozen=True, kw_only=True)`` would generate (the same
    # behaviour: keyword-only __init__, frozen, eq, hash, repr), written once for every table:
    # generated methods are compiled class by class on import, on every run of every command.
    built: Any = dataclasses.dataclass(init=False, repr=False, eq=False, kw_only=True)(cls)
    rules: dict[str, Rule] = {}
    for each in dataclasses.fields(built):
        rule: Rule | None = each.metadata.get("rule")
        problem = "is not declared with setting()" if rule is None else _half_declared(rule)
        if rule is None or problem:  # at import time: a half-declared setting never ships
            raise TypeError(f"{cls.__name__}.{each.name} {problem}")
        rules[each.name] = rule
    built.RULES = rules
    return typing.cast(type[C], built)


_SECRETS = (None, "value", "url", "webhook", "headers")
_GUARDS = (None, "redirect", "credential", "both")


def _half_declared(rule: Rule) -> str | None:
    """What is missing or wrong in a declaration, so every variable and flag has its help."""
    if (rule.env or rule.flag) and not rule.help.strip():
        return "has a variable or flag but no help"
    if rule.env and not rule.env.startswith("FINOPS_"):
        return f"has variable {rule.env!r}, which does not start with FINOPS_"
    if rule.flag and not rule.flag.startswith("--"):
        return f"has flag {rule.flag!r}, which does not start with --"
    if rule.secret not in _SECRETS or rule.guard not in _GUARDS:
        return f"has secret={rule.secret!r} / guard={rule.guard!r}: not one of the known kinds"
    return None


def _own_rule(rule: Callable[[Any], object], value: object, shown: object) -> object:
    try:
        return rule(value)
    except ConfigError:
        raise
    except ValueError as exc:
        raise invalid(str(exc), shown, "value") from None


class Checked:
    """Base of the frozen settings dataclasses: checks on construction and ``from_mapping``.

    A subclass lists a ``Rule`` per field in ``RULES`` (declaration order, which is the order
    problems are reported in). ``_prepare`` may rewrite the whole input table first and
    ``_check_whole`` holds the rules across fields; ``partial`` is true while one source of
    several is checked on its own, when a rule about the merged result cannot be judged yet.
    """

    RULES: ClassVar[Mapping[str, Rule]]

    # What ``@dataclass(frozen=True, kw_only=True)`` would generate, written once for all tables:
    # keyword arguments (defaults for the rest), frozen, equal when of the same class with equal
    # fields, hashed by the fields, shown as ``Name(field=...)``.
    def __init__(self, **given: Any) -> None:
        for name, each in self.__dataclass_fields__.items():  # type: ignore[attr-defined]
            if name in given:
                value = given.pop(name)
            elif each.default_factory is not dataclasses.MISSING:
                value = each.default_factory()
            else:
                value = each.default
            object.__setattr__(self, name, value)
        if given:
            raise TypeError(
                f"{type(self).__qualname__}.__init__() got an unexpected keyword argument "
                f"{next(iter(given))!r}"
            )
        self.__post_init__()

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._field_values() == other._field_values()

    def __hash__(self) -> int:
        return hash(self._field_values())

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.RULES)
        return f"{self.__class__.__qualname__}({shown})"

    def _field_values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.RULES)

    @classmethod
    def _prepare(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        return data

    def _check_whole(self, partial: bool) -> None:
        """Raise ValueError for a rule across fields; the message names the fields."""

    @classmethod
    def _values(cls, data: Mapping[str, Any], partial: bool) -> dict[str, object]:
        values: dict[str, object] = {}
        problems: list[Problem] = []
        for name, rule in cls.RULES.items():
            if name in data and data[name] is not _REQUIRED:
                try:
                    values[name] = rule.apply(data[name], partial)
                except ConfigError as exc:
                    problems += [p.under(name) for p in exc.problems]
            elif _default_missing(cls, name):
                problems.append(Problem((name,), "missing", "is required", dict(data)))
        for key, value in data.items():
            if key not in cls.RULES:
                problems.append(Problem((key,), "unknown", "is not a setting", value))
        if problems:
            raise ConfigError(problems, cls.__name__)
        return values

    @classmethod
    def from_mapping(cls, data: object, *, partial: bool = False) -> Self:
        """Check a plain table (a parsed TOML table, say) and build the settings from it."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise invalid("must be a table", data, "table")
        data = cls._prepare(data)
        values = cls._values(data, partial)
        built = cls.__new__(cls)
        for each in dataclasses.fields(built):  # type: ignore[arg-type]
            if each.name in values:
                value = values[each.name]
            elif each.default_factory is not dataclasses.MISSING:
                value = each.default_factory()
            else:
                value = each.default
            object.__setattr__(built, each.name, value)
        built._whole(partial, data)
        return built

    def __post_init__(self) -> None:
        # Like keyword arguments: a None left at its None default was not given (this matters
        # to _prepare, e.g. whether a URL's user:pass@ may fill username/password).
        fields = self.__dataclass_fields__  # type: ignore[attr-defined]
        given = {
            name: getattr(self, name)
            for name in self.RULES
            if not (getattr(self, name) is None and fields[name].default is None)
        }
        values = type(self)._values(type(self)._prepare(given), partial=False)
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self._whole(False, given)

    def _whole(self, partial: bool, data: Mapping[str, Any]) -> None:
        try:
            self._check_whole(partial)
        except ValueError as exc:
            raise ConfigError(
                [Problem((), "value", str(exc), dict(data))], type(self).__name__
            ) from None


def _default_missing(cls: type, name: str) -> bool:
    field = cls.__dataclass_fields__[name]  # type: ignore[attr-defined]
    return field.default is _REQUIRED


def known_keys(cls: type[Checked], parent: tuple[str, ...]) -> list[str]:
    """The keys a table at ``parent`` may hold, for "did you mean" hints ([] if not a section)."""
    for part in parent:
        rule = cls.RULES.get(part)
        if rule is None or rule.section is None:
            return []
        cls = rule.section
    return list(cls.RULES)


def closest_key(cls: type[Checked], loc: tuple[str, ...]) -> str | None:
    """The known key most like the unknown one at ``loc``, so a typo's fix is in the message."""
    if not loc:
        return None
    import difflib  # only on this error path: it is not needed to load good settings

    close = difflib.get_close_matches(loc[-1], known_keys(cls, loc[:-1]), n=1)
    return close[0] if close else None


def plain(value: object) -> object:
    """Settings as JSON-ready data (tables, lists, text); a secret shows as ``**********``."""
    if isinstance(value, Checked):
        return {name: plain(getattr(value, name)) for name in value.RULES}
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    if isinstance(value, SecretStr | Path):
        return str(value)
    return value
