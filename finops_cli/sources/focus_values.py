"""Cell values of FOCUS files: the derivations (dates, JSON tags, instance types) and their codes.

Split from ``focus.py`` because decoding one value is a job of its own, independent of files and
of the grouping: a distinct raw value is derived once and turned into a small integer code
(``Attribute``) that every batch of every file shares, which is what keeps a 5 GB export cheap
to group. ``BadValue`` carries why a value is unusable; the reader turns it into a
``UsageError`` naming the row and column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from finops_cli.sources.billing import NO_INSTANCE_TYPE, UNTAGGED

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_USAGE_INSTANCE = re.compile(r"(?:^|[:/])([a-z][a-z0-9-]*[0-9][a-z0-9-]*\.[0-9a-z-]+)$")


MISSING_TEXT = frozenset({"", "null"})
"""Cell texts that mean "no value" in every FOCUS column (compared stripped, case-insensitive):
real exports (AWS, Microsoft, Oracle, the FinOps Foundation's published sample) write empty
values as ``NULL``; a region, tag set or service called "NULL" is a missing value, not a name."""


def missing(raw: Any) -> Any:
    """``raw``, or None where it is a missing value (None, empty, ``NULL``, ``null``)."""
    if isinstance(raw, str) and raw.strip().lower() in MISSING_TEXT:
        return None
    return raw


class BadValue(Exception):  # noqa: N818 - internal signal, never leaves the FOCUS reader
    """A raw value a derivation cannot use; carries the reason shown to the user."""


Derive = Callable[[Any], str]


@dataclass
class Attribute:
    """A group or filter value, encoded as small integer codes shared by every batch and file.

    Files name and shape the source differently (``x_UsageType`` here, ``x_InstanceType``
    there), so each read says which column it derives from and how; a distinct raw value is
    derived once per (column, value), and equal derived values share one code, which is what
    lets partial aggregates of different files merge by code.
    """

    label: str
    values: list[str] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)
    raw: dict[tuple[str, Any], int] = field(default_factory=dict)
    errors: dict[tuple[str, Any], str] = field(default_factory=dict)
    by_column: dict[str, tuple[Any, list[int]]] = field(default_factory=dict)  # text seen, codes

    BAD = -1

    def value_code(self, value: str) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code

    def code_of(self, column: str, derive: Derive, raw: Any) -> int:
        key = (column, hashable(raw))
        found = self.raw.get(key)
        if found is not None:
            return found
        try:
            code = self.value_code(derive(missing(raw)))
        except BadValue as bad:
            self.errors[key] = str(bad)
            code = self.BAD
        self.raw[key] = code
        return code

    def encode(self, array: Any, column: str, derive: Derive) -> npt.NDArray[np.int32]:
        """Codes for a column of a batch (any type; dictionary-encoded on the way).

        Text dictionaries are matched against the raw values seen before in one vectorised
        ``index_in``; only values never seen go through ``derive``.
        """
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not pa.types.is_dictionary(array.type):
            array = pc.dictionary_encode(array)
        dictionary = array.dictionary
        null_code = self.code_of(column, derive, None)
        if pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type):
            seen, seen_codes = self.by_column.get(column, (pa.array([], pa.string()), []))
            where = pc.index_in(dictionary.cast(pa.string()), value_set=seen)
            positions = np.array(where.fill_null(-1).to_numpy(zero_copy_only=False))
            fresh = np.flatnonzero(positions < 0)
            if len(fresh):
                values = dictionary.take(pa.array(fresh)).to_pylist()
                codes = [self.code_of(column, derive, v) for v in values]
                positions[fresh] = np.arange(len(seen_codes), len(seen_codes) + len(fresh))
                seen = pa.concat_arrays([seen, pa.array(values, pa.string())])
                seen_codes = [*seen_codes, *codes]
                self.by_column[column] = (seen, seen_codes)
            table = np.append(np.asarray(seen_codes, np.int32)[positions], np.int32(null_code))
        else:
            table = np.array(
                [self.code_of(column, derive, v) for v in dictionary.to_pylist()] + [null_code],
                np.int32,
            )
        indices = array.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
        return np.asarray(table[indices], dtype=np.int32)

    def encode_map_lookup(self, array: Any, key: str) -> npt.NDArray[np.int32]:
        """Codes for a map-typed ``Tags`` column (Parquet from Athena or Data Exports)."""
        import numpy as np
        import pyarrow.compute as pc

        found = pc.coalesce(
            pc.map_lookup(array, key, "first"), pc.map_lookup(array, f"user:{key}", "first")
        )
        encoded = pc.dictionary_encode(found)
        dictionary = encoded.dictionary.to_pylist()
        table = np.array(
            [self.value_code(UNTAGGED if missing(v) is None else str(v)) for v in dictionary]
            + [self.value_code(UNTAGGED)],
            np.int32,
        )
        indices = encoded.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
        return np.asarray(table[indices], dtype=np.int32)


@dataclass(frozen=True)
class Use:
    """One attribute read from one file: the file's column (canonical name) and how to derive."""

    attribute: Attribute
    column: str
    derive: Derive
    tag_key: str | None = None  # Tags: the key, for map-typed columns


def hashable(raw: Any) -> Any:
    return raw if raw is None or isinstance(raw, str | int | float | datetime | date) else str(raw)


# ---- derivations ----------------------------------------------------------------------------
def parse_time(raw: Any) -> datetime:
    """A FOCUS date-time (ISO 8601 text, or a Parquet timestamp) as aware UTC."""
    if raw is None or raw == "":
        raise BadValue("missing value")
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, date):
        moment = datetime(raw.year, raw.month, raw.day)
    else:
        text = str(raw).strip()
        if text[-4:].upper() == " UTC":  # BigQuery's spelling: 2024-09-01 00:00:00 UTC
            text = text[:-4] + "+00:00"
        try:
            moment = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise BadValue(f"not an ISO 8601 date-time ({shorten(text)!r})") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def tag_value(raw: Any, key: str) -> str:
    """The value of ``key`` in a FOCUS ``Tags`` JSON object; ``__untagged__`` when absent."""
    if raw is None or raw == "":
        return UNTAGGED
    try:
        tags = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise BadValue(f"not a JSON object ({shorten(raw)!r})") from None
    if not isinstance(tags, dict):
        raise BadValue(f"not a JSON object ({shorten(raw)!r})")
    value = missing(tags.get(key))
    if value is None:
        value = missing(tags.get(f"user:{key}"))  # AWS prefixes user-defined tags in some exports
    if value is None:
        return UNTAGGED
    return value if isinstance(value, str) else json.dumps(value)


def instance_type_of(raw: Any, column: str) -> str:
    """An instance type from ``x_InstanceType``, ``x_UsageType`` or ``SkuPriceDetails``."""
    if raw is None or raw == "":
        return NO_INSTANCE_TYPE
    text = str(raw).strip()
    if column == "x_InstanceType":
        return text or NO_INSTANCE_TYPE
    if column == "SkuPriceDetails":
        try:
            details = json.loads(text)
        except ValueError:
            return NO_INSTANCE_TYPE
        if isinstance(details, dict):
            for key in ("InstanceType", "x_InstanceType", "instanceType"):
                if isinstance(details.get(key), str) and details[key]:
                    return str(details[key])
        return NO_INSTANCE_TYPE
    match = _USAGE_INSTANCE.search(text)
    return match.group(1) if match else NO_INSTANCE_TYPE


def as_text(raw: Any) -> str:
    return "" if raw is None else str(raw)


def shorten(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def missing_text_mask(array: Any) -> Any:
    """Per cell of a text array: True where it is a missing value (``missing``)."""
    import pyarrow.compute as pc

    trimmed = pc.utf8_lower(pc.utf8_trim_whitespace(array))
    return pc.is_in(trimmed, value_set=_missing_set()).fill_null(True)


def _missing_set() -> Any:
    import pyarrow as pa

    return pa.array(sorted(MISSING_TEXT), pa.string())


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300]
