"""The small validation layer under the settings: coerce one value, collect every problem.

The settings used to be models of a third-party validation library, whose import and model
building cost about 0.15 s on every ``finops`` run; they are now frozen dataclasses checked by the
few stdlib-only rules here. Each problem keeps the wording that library gave it (``message``), so
the one-line errors users and CI logs see did not change; ``Problem.reason`` is the form the
settings loader shows.

Coercion is lax, as the library's was, because configuration arrives as text: environment strings
such as ``"3"`` become ints, ``"0.5"`` floats, ``"yes"`` booleans; ints are accepted as floats. A
check reports a bad value by raising ``ConfigError`` (a ``ValueError``) with its problems, their
locations relative to the value checked, so a table can prefix them with the key that holds it.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

T = TypeVar("T")

# Rust's str::trim, which the old number parsing used: Python's whitespace less \x1c-\x1f.
_TRIM = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
_TRIM += "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_INT_DIGITS_LIMIT = 4300  # Python's own limit on int() of a string
_I64 = 2.0**63


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a settings input.

    ``kind`` is ``unknown`` (a key that is no setting), ``missing``, ``table`` (a section that
    is not a table), ``mapping`` (a names-to-values setting that is not a table), ``bool``,
    ``value`` (a rule of our own; ``message`` says what is wrong) or ``type`` (any other
    wrong type or bound). ``input`` is the offending value, echoed only where it is safe.
    """

    loc: tuple[str | int, ...]
    kind: str
    message: str
    input: object = None

    @property
    def reason(self) -> str:
        """The problem as the settings loader words it after ``invalid setting X from Y:``."""
        fixed = {
            "bool": "must be true or false (1/0 and yes/no also work)",
            "table": "must be a table",
            "missing": "is required",
            "mapping": "must be a table of names to values",
        }
        if self.kind in fixed:
            return fixed[self.kind]
        if self.message.startswith("Input should be "):
            return "must be " + self.message.removeprefix("Input should be ")
        return self.message

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


def invalid(message: str, value: object, kind: str = "type") -> ConfigError:
    """The error for one bad value (raise it); ``message`` is worded as the old library did."""
    return ConfigError([Problem((), kind, message, value)])


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
        raise invalid(f"Input should be greater than {_number(gt)}", value)
    if ge is not None and not number >= ge:
        raise invalid(f"Input should be greater than or equal to {_number(ge)}", value)
    if le is not None and not number <= le:
        raise invalid(f"Input should be less than or equal to {_number(le)}", value)


def _text_of(value: object) -> str | None:
    """Text in a str, bytes or bytearray, as the old lax mode read them; None otherwise."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _without_underscores(text: str) -> str | None:
    """``1_000`` -> ``1000``; None where an underscore is leading, trailing or doubled."""
    if text.startswith("_") or text.endswith("_") or "__" in text:
        return None
    return text.replace("_", "")


def _float_text(text: str) -> float | None:
    """Rust's f64 grammar: digits, '.', exponent, inf/infinity/nan; no other scripts' digits."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if body.lower() in ("inf", "infinity", "nan"):
        return float(text)
    mantissa, _, exponent = body.lower().partition("e")
    whole, _, fraction = mantissa.partition(".")
    if not (whole + fraction) or not (whole + fraction).isascii():
        return None
    if not (whole.isdigit() or not whole) or not (fraction.isdigit() or not fraction):
        return None
    if "e" in body.lower():
        digits = exponent[1:] if exponent[:1] in ("+", "-") else exponent
        if not (digits.isascii() and digits.isdigit()):
            return None
    return float(text)


def _parse_float(text: str) -> float | None:
    parsed = _float_text(text.strip(_TRIM))
    if parsed is None:
        stripped = _without_underscores(text)  # untrimmed, as the old parser did
        parsed = None if stripped is None else _float_text(stripped)
    return parsed


def _int_text(text: str) -> int | None:
    """Rust's integer grammar, plus underscores between two digits as Python allows them."""
    sign = text[:1] if text[:1] in ("+", "-") else ""
    body = text[len(sign) :]
    if body.startswith("0"):  # leading zeros skip any underscores among them
        body = body.lstrip("0_") or body[-1]
    digits = body.replace("_", "")
    if not (digits.isascii() and digits.isdigit()):
        return None
    if "_" in body and any(
        not (body[i - 1 : i].isdigit() and body[i + 1 : i + 2].isdigit())
        for i, ch in enumerate(body)
        if ch == "_"
    ):
        return None
    return int(sign + digits)


def _parse_int(text: str, value: object) -> int:
    text = text.strip(_TRIM)
    if len(text) > _INT_DIGITS_LIMIT:
        raise invalid("Unable to parse input string as an integer, exceeded maximum size", value)
    parsed = _int_text(text)
    if parsed is None:
        whole, dot, fraction = text.partition(".")
        if dot and fraction and fraction.strip("0") == "":  # "3.00" is 3
            parsed = _int_text(whole)
    if parsed is None:
        raise invalid(
            "Input should be a valid integer, unable to parse string as an integer", value
        )
    return parsed


def to_bool(value: object) -> bool:
    """true/false, 1/0, yes/no, on/off, t/f, y/n in any case, and the numbers 0 and 1."""
    if isinstance(value, bool):
        return value
    text = _text_of(value) if isinstance(value, str | bytes) else None
    if text is not None and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    # two wordings, as before: a whole number that fits 64 bits "cannot be interpreted"
    in_range = (isinstance(value, int) and -_I64 <= value < _I64) or (
        isinstance(value, float) and value.is_integer() and -_I64 < value < _I64
    )
    unparsable = isinstance(value, str | bytes) or in_range
    if unparsable:
        raise invalid("Input should be a valid boolean, unable to interpret input", value, "bool")
    raise invalid("Input should be a valid boolean", value, "bool")


def to_int(value: object, *, ge: float | None = None, le: float | None = None) -> int:
    """A whole number; "3", "3.0" and 3.0 count, 3.5 does not. True is 1: refuse it before."""
    number: int
    if isinstance(value, int):
        number = int(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise invalid("Input should be a finite number", value)
        if not value.is_integer():
            message = "Input should be a valid integer, got a number with a fractional part"
            raise invalid(message, value)
        if not -_I64 < value < _I64:
            message = "Unable to parse input string as an integer, exceeded maximum size"
            raise invalid(message, value)
        number = int(value)
    elif isinstance(value, str | bytes | bytearray):
        text = _text_of(value)
        if text is None:
            message = "Input should be a valid integer, unable to parse string as an integer"
            raise invalid(message, value)
        number = _parse_int(text, value)
    else:
        raise invalid("Input should be a valid integer", value)
    _check_bounds(number, value, None, ge, le)
    return number


def to_float(
    value: object,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
) -> float:
    """A finite number within the bounds; ints and numeric strings count. True is 1.0."""
    number: float | None
    if isinstance(value, float):
        number = value
    elif isinstance(value, int):
        try:
            number = float(value)
        except OverflowError:
            raise invalid("Input should be a valid number", value) from None
    elif isinstance(value, str | bytes):
        text = _text_of(value)
        number = None if text is None else _parse_float(text)
        if number is None:
            message = "Input should be a valid number, unable to parse string as a number"
            raise invalid(message, value)
    else:
        raise invalid("Input should be a valid number", value)
    if not math.isfinite(number):
        raise invalid("Input should be a finite number", value)
    _check_bounds(number, value, gt, ge, le)
    return number


def to_str(value: object) -> str:
    """Text; a number is not text (``currency = 840`` is refused, not read as "840")."""
    text = _text_of(value)
    if text is not None:
        return text
    if isinstance(value, bytes | bytearray):
        message = "Input should be a valid string, unable to parse raw data as a unicode string"
        raise invalid(message, value)
    raise invalid("Input should be a valid string", value)


def to_secret(value: object) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(to_str(value))


def to_path(value: object) -> Path:
    if isinstance(value, Path):
        return value
    if isinstance(value, str | os.PathLike):
        return Path(value)
    raise invalid("Input is not a valid path for <class 'pathlib.Path'>", value)


def choice(*choices: str) -> Callable[[object], str]:
    """One of ``choices`` exactly, e.g. ``'auto', 'sample' or 'prometheus'``."""
    quoted = [repr(c) for c in choices]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]

    def check(value: object) -> str:
        if isinstance(value, str) and value in choices:
            return str.__str__(value)
        raise invalid(f"Input should be {listed}", value)

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


def tuple_of(convert: Callable[[object], T]) -> Callable[[object], tuple[T, ...]]:
    """A list (or other sequence) whose items each pass ``convert``; problems name the index."""

    def check(value: object) -> tuple[T, ...]:
        if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
            raise invalid("Input should be a valid tuple", value)
        items: list[T] = []
        problems: list[Problem] = []
        for index, item in enumerate(value):
            try:
                items.append(convert(item))
            except ConfigError as exc:
                problems += [p.under(index) for p in exc.problems]
        if problems:
            raise ConfigError(problems)
        return tuple(items)

    return check


def table_of(convert: Callable[[object], T]) -> Callable[[object], dict[str, T]]:
    """A table of names to values that each pass ``convert``; problems name the key."""

    def check(value: object) -> dict[str, T]:
        if not isinstance(value, Mapping):
            raise invalid("Input should be a valid dictionary", value, "mapping")
        result: dict[str, T] = {}
        problems: list[Problem] = []
        for key, item in value.items():
            name: str | None = None
            try:
                name = to_str(key)
            except ConfigError as exc:
                problems += [p.under(key, "[key]") for p in exc.problems]
            try:
                converted = convert(item)
            except ConfigError as exc:
                problems += [p.under(key) for p in exc.problems]
                continue
            if name is not None:
                result[name] = converted
        if problems:
            raise ConfigError(problems)
        return result

    return check


# --- one table ------------------------------------------------------------------------------

_REQUIRED: Any = object()  # the default of a field that must be given


def required() -> Any:
    """Default of a field that has none: omitting it is a problem, not a TypeError."""
    return dataclasses.field(default=_REQUIRED)


@dataclasses.dataclass(frozen=True)
class Rule:
    """How the input of one field becomes its value, in the order the old library used.

    ``prepare`` first rewrites the raw input (``"1m"`` -> ``60.0``); ``convert`` checks type and
    bounds; each of ``checks`` then validates (and may normalise) the converted value, raising a
    plain ``ValueError`` whose text is the message. ``section`` makes the field a nested table
    whose cross-field rules wait, like its parent's, until every source is merged.
    """

    convert: Callable[[object], object] = lambda value: value
    prepare: Callable[[object], object] | None = None
    checks: tuple[Callable[[Any], object], ...] = ()
    section: type[Checked] | None = None

    def apply(self, given: object, partial: bool) -> object:
        value = given if self.prepare is None else _own_rule(self.prepare, given, given)
        if self.section is not None:
            return self.section.from_mapping(value, partial=partial)
        result = self.convert(value)  # its problems show the prepared value
        for check in self.checks:
            result = _own_rule(check, result, given)  # theirs show the value as given
        return result


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
                problems.append(Problem((name,), "missing", "Field required", dict(data)))
        for key, value in data.items():
            if key not in cls.RULES:
                problems.append(Problem((key,), "unknown", "Extra inputs are not permitted", value))
        if problems:
            raise ConfigError(problems, cls.__name__)
        return values

    @classmethod
    def from_mapping(cls, data: object, *, partial: bool = False) -> Self:
        """Check a plain table (a parsed TOML table, say) and build the settings from it."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            message = f"Input should be a valid dictionary or instance of {cls.__name__}"
            raise invalid(message, data, "table")
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
