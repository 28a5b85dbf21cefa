"""What every bill source answers: cost per period and group, in one tidy frame.

Three backends read the cloud bill: AWS Cost Explorer (``cost_explorer.py``), FOCUS files from any
cloud (``focus.py``) and FOCUS / CUR 2.0 tables in Athena (``athena.py``); the sample cluster's
simulated bill answers through the Cost Explorer one. They all take a ``BillRequest`` and give back
a ``BillData`` whose frame has the same columns, so ``analytics.billing`` never knows where a
figure came from.

Group dimensions are named in one vocabulary (``DIMENSIONS``) that each backend maps to its own
columns; a dimension a backend cannot provide is a ``UsageError`` saying which one can.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from finops_cli.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

UNTAGGED = "__untagged__"
"""Spend without a value for a tag (Cost Explorer's ``key$``, a FOCUS row without the key)."""

NO_INSTANCE_TYPE = "NoInstanceType"
"""What Cost Explorer calls spend that is not an instance; FOCUS rows without one say the same."""

Granularity = Literal["daily", "monthly"]

# name -> what it means; ``tag:KEY`` and ``category:NAME`` take a key after the colon.
DIMENSIONS: dict[str, str] = {
    "team": "the team tag (billing.team_tag, default 'team')",
    "service": "the cloud service (Cost Explorer SERVICE, FOCUS ServiceName)",
    "instance_type": "the instance type (e.g. p5.48xlarge)",
    "account": "the linked / sub account (Cost Explorer LINKED_ACCOUNT, FOCUS SubAccountId)",
    "region": "the region (Cost Explorer REGION, FOCUS RegionId)",
    "usage_type": "the usage type (Cost Explorer USAGE_TYPE, FOCUS x_UsageType)",
    "purchase_option": "on-demand, spot or committed (Cost Explorer PURCHASE_TYPE, "
    "FOCUS PricingCategory)",
    "resource": "the resource id (FOCUS ResourceId; not in Cost Explorer)",
    "sku": "the SKU (FOCUS SkuId; not in Cost Explorer)",
    "provider": "the provider (FOCUS ProviderName / ServiceProviderName)",
    "tag": "tag:KEY, any cost allocation tag",
    "category": "category:NAME, an AWS cost category (Cost Explorer only)",
}

# Cost Explorer metric names; FOCUS files and tables use the FOCUS column each one maps to.
CE_METRICS = ("UnblendedCost", "AmortizedCost", "NetAmortizedCost", "NetUnblendedCost")
FOCUS_METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
METRIC_TO_FOCUS = {
    "UnblendedCost": "BilledCost",
    "NetUnblendedCost": "BilledCost",
    "AmortizedCost": "EffectiveCost",
    "NetAmortizedCost": "EffectiveCost",
    **{m: m for m in FOCUS_METRICS},
}
METRIC_TO_CE = {
    **{m: m for m in CE_METRICS},
    "BilledCost": "UnblendedCost",
    "EffectiveCost": "AmortizedCost",
}

# Instance families with NVIDIA GPUs (AWS), for --instance-family gpu and for reconciliation.
GPU_FAMILIES = (
    "g3",
    "g3s",
    "g4dn",
    "g4ad",
    "g5",
    "g5g",
    "g6",
    "g6e",
    "g6f",
    "gr6",
    "gr6f",
    "p2",
    "p3",
    "p3dn",
    "p4d",
    "p4de",
    "p5",
    "p5e",
    "p5en",
    "p6-b200",
    "p6e-gb200",
)
_TAG_KEY = re.compile(r"[^\x00-\x1f$]{1,128}")


@dataclass(frozen=True)
class Dimension:
    """One group key: its vocabulary name, its key (tag or category), and its output column."""

    name: str
    key: str | None = None

    @property
    def column(self) -> str:
        """The column (and JSON field) it fills: ``team``, ``instance_type``, or the tag key."""
        return self.key if self.name in ("tag", "category") and self.key else self.name


def parse_dimension(text: str, team_tag: str) -> Dimension:
    """``--by`` text to a ``Dimension``: ``team``, ``instance-type``, ``tag:cost-center``..."""
    raw = text.strip()
    name, sep, key = raw.partition(":")
    name = name.strip().lower().replace("-", "_")
    if name == "team" and not sep:
        return Dimension("team", team_tag)
    if name in ("tag", "category"):
        if not sep or not _TAG_KEY.fullmatch(key):
            raise UsageError(
                f"invalid --by {text!r}: {name} needs a key, e.g. --by {name}:cost-center"
            )
        return Dimension(name, key)
    if sep or name not in DIMENSIONS:
        choices = ", ".join(k.replace("_", "-") for k in DIMENSIONS if k not in ("tag", "category"))
        raise UsageError(
            f"invalid --by {text!r}: expected one of {choices}, tag:KEY or category:NAME"
        )
    return Dimension(name)


def instance_family(instance_type: str) -> str:
    """``p5.48xlarge`` -> ``p5``; ``p6-b200.48xlarge`` -> ``p6-b200``."""
    return instance_type.split(".", 1)[0].lower()


def is_gpu_instance(instance_type: str) -> bool:
    return "." in instance_type and instance_family(instance_type) in GPU_FAMILIES


_OTHER_GPU_MACHINES = re.compile(r"(?i)^(?:standard_n[cdv]\w*|(?:a2|a3|a4|g2|g4)-\w[\w-]*)$")


def is_gpu_machine(instance_type: str) -> bool:
    """A GPU instance of any cloud: an AWS GPU family, an Azure N-series size
    (``Standard_ND96isr_H100_v5``) or a GCP accelerator-optimised machine (``a3-highgpu-8g``)."""
    return is_gpu_instance(instance_type) or bool(_OTHER_GPU_MACHINES.match(instance_type))


def expand_families(families: tuple[str, ...]) -> tuple[str, ...]:
    """``gpu`` stands for every GPU family; the rest are checked and lowercased."""
    out: list[str] = []
    for family in families:
        value = family.strip().lower()
        if value == "gpu":
            out.extend(GPU_FAMILIES)
        elif re.fullmatch(r"[a-z][a-z0-9-]{0,15}", value):
            out.append(value)
        else:
            raise UsageError(
                f"invalid --instance-family {family!r}: expected a family such as p5, g6e or 'gpu'"
            )
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class BillRequest:
    """What to read from the bill.

    ``start``/``end`` are whole UTC days, end exclusive (Cost Explorer's own convention).
    ``services`` None means the backend's default compute filter (Cost Explorer: EC2 instances;
    FOCUS: ServiceCategory Compute, ChargeCategory Usage); an empty tuple means every service.
    ``tags`` maps a tag key to the values wanted, where ``""`` selects spend without that tag.
    """

    start: date
    end: date
    granularity: Granularity
    metric: str
    group_by: tuple[Dimension, ...]
    services: tuple[str, ...] | None = None
    instance_families: tuple[str, ...] = ()
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    now: datetime | None = None  # for "estimated": a billing period still open at ``now``

    @property
    def columns(self) -> list[str]:
        return [d.column for d in self.group_by]


BILL_COLUMNS = ("period_start", "period_end", "estimated", "currency", "cost")
"""Besides the group columns: ISO dates (end exclusive), bool, ISO 4217 code, float."""


@dataclass
class BillData:
    """A bill source's answer.

    ``frame``: one row per period and group, columns ``request.columns`` + ``BILL_COLUMNS``;
    group values are strings (``__untagged__`` for spend without the tag). ``paid_calls`` counts
    requests that cost money (Cost Explorer: $0.01 a page); ``cached_calls`` those answered from
    the disk cache instead.
    """

    source: str
    metric: str
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    paid_calls: int = 0
    cached_calls: int = 0
    scanned_bytes: int | None = None


@dataclass(frozen=True)
class Forecast:
    """Cost Explorer's forecast for the rest of the month, with month-to-date actual spend."""

    metric: str
    currency: str
    month_start: date
    start: date  # first forecast day (today)
    end: date  # first day of next month (exclusive)
    mean: float
    lower: float | None
    upper: float | None
    prediction_interval: int
    month_to_date: float
    month_to_date_estimated: bool
    periods: tuple[
        tuple[str, str, float, float | None, float | None], ...
    ]  # start, end, mean, lo, hi


class BillSource(ABC):
    """A backend that reads the cloud bill."""

    name: str

    @abstractmethod
    def actual(self, request: BillRequest) -> BillData:
        """Cost per period and group for the request."""

    def forecast(self, request: BillRequest, prediction_interval: int) -> Forecast:
        raise UsageError(f"the {self.name} bill source cannot forecast: use Cost Explorer")

    def explain(self, request: BillRequest) -> str:
        raise UsageError(f"--explain shows the SQL of --athena only, not of {self.name}")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients; sources without any keep the default."""
