"""What commitments cover and what they waste, from bill rows: pure functions, no I/O, no clock.

Input is the frame of ``sources.focus_commitments.COMMITMENT_COLUMNS`` (FOCUS rows that name a
commitment or a capacity reservation, and every GPU instance usage row). The rules, which
docs/billing.md states for users:

* **Money** is ``EffectiveCost`` (amortized: what a used or unused hour of a commitment cost),
  summed from the rows as billed and rounded only in the document, never per hour.
* **A commitment's rows**: each usage row with ``CommitmentDiscountStatus`` Used/Unused belongs
  to its ``CommitmentDiscountId``; each with ``CapacityReservationStatus`` Used/Unused to its
  ``CapacityReservationId`` too (an instance in an on-demand capacity reservation covered by a
  Savings Plan is used capacity of both). committed = used + unused; utilisation = used /
  committed. Totals count each row once (its commitment status first, else its reservation's).
* **Kinds**: a Capacity Block is both a reservation and a commitment (``capacity-block``:
  "capacity block" in ``CommitmentDiscountType``, ``x_UsageType`` or ``PricingCategory``);
  ``savings-plan`` and ``reserved-instance`` from ``CommitmentDiscountType`` (else Spend /
  Usage category); a reservation id without a commitment is an on-demand capacity reservation
  (``capacity-reservation``, priced on demand).
* **Coverage** is of GPU instance-hours that ran (usage rows, unused rows excluded): committed
  (a Used commitment, ``PricingCategory`` Committed, or a Capacity Block), spot (``Dynamic`` or
  a spot usage type) and on-demand (the rest, including hours inside an on-demand capacity
  reservation). Rows for unused commitment are money, not instance-hours.
* **Idle while on-demand ran**: per charge period and instance type, the unused hours of a
  capacity reservation or Capacity Block against the on-demand hours of the same type that ran
  in the same period, in the same zone where both rows name one. Overlap hours are the smaller
  of the two; the money lost is those hours at the on-demand rate paid in that period (its
  on-demand cost / on-demand hours): what the idle reservation could have absorbed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from finops_cli.sources.billing import NO_INSTANCE_TYPE, instance_family, is_gpu_machine
from finops_cli.sources.commitment_types import Commitment, CoverageRow, Term

__all__ = ["Commitment", "CommitmentReport", "CoverageRow", "Term", "commitment_report"]

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("savings-plan", "reserved-instance", "capacity-block", "capacity-reservation")
RESERVATION_KINDS = ("capacity-block", "capacity-reservation")
NO_FAMILY = "(no instance type)"
TEXT = (
    "charge_category", "pricing_category", "commitment_id", "commitment_type",
    "commitment_category", "commitment_status", "commitment_unit", "reservation_id",
    "reservation_status", "instance_type", "zone", "region", "resource_id", "provider",
    "currency", "usage_type", "contract_applied", "charge_subcategory",
)  # fmt: skip


@dataclass(frozen=True)
class FamilyRow:
    """Commitment money and instance-hours of one GPU instance family."""

    family: str
    committed: float
    used: float
    unused: float
    utilisation: float | None
    committed_hours: float
    on_demand_hours: float
    spot_hours: float


@dataclass(frozen=True)
class Overlap:
    """A reservation that sat unused while on-demand instances of its type ran."""

    reservation_id: str
    kind: str
    instance_type: str
    zone: str | None
    hours: float
    money: float
    periods: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class CommitmentReport:
    currency: str
    commitments: tuple[Commitment, ...]
    families: tuple[FamilyRow, ...]
    coverage: tuple[CoverageRow, ...]
    overlaps: tuple[Overlap, ...]
    expiring: tuple[Term, ...]
    committed: float
    used: float
    unused: float
    notes: list[str] = field(default_factory=list)

    @property
    def utilisation(self) -> float | None:
        return self.used / self.committed if self.committed > 0 else None

    @property
    def total_coverage(self) -> CoverageRow:
        return CoverageRow(
            "total",
            sum(r.committed_hours for r in self.coverage),
            sum(r.on_demand_hours for r in self.coverage),
            sum(r.spot_hours for r in self.coverage),
            sum(r.on_demand_cost for r in self.coverage),
        )

    @property
    def overlap_money(self) -> float:
        return sum(o.money for o in self.overlaps)


def _squash(text: object) -> str:
    return "".join(ch for ch in str(text or "").lower() if ch.isalnum())


def row_kind(commitment_type: object, category: object, usage_type: object, pricing: object) -> str:
    """The kind of commitment a row names (see the module docstring)."""
    if any("capacityblock" in _squash(t) for t in (commitment_type, usage_type, pricing)):
        return "capacity-block"
    text = _squash(commitment_type)
    if "savings" in text:
        return "savings-plan"
    if "reserv" in text or "committeduse" in text:
        return "reserved-instance"
    if _squash(category) == "spend":
        return "savings-plan"
    return "reserved-instance"


def _subcategory_status(value: object) -> str:
    """FOCUS 1.0 has no CommitmentDiscountStatus: its ChargeSubcategory says "Used Commitment"
    or "Unused Commitment"; a usage row that names a commitment and says neither used it."""
    text = _status(value)
    return "unused" if "unused" in text else "used"


def _status(value: object) -> str:
    return str(value or "").strip().lower()


def classify(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with derived columns: ``kind`` (of the commitment, or of the reservation),
    ``state`` (used / unused / purchase / run), ``bought`` (committed / on-demand / spot for
    instance-hours that ran), ``family``, ``gpu``, ``owner`` (the record a row counts to in the
    totals) and ``cb`` (the row is a Capacity Block's)."""
    out = frame.copy()
    for column in TEXT:  # concatenated frames carry NaN where a file lacked a column
        if column in out:
            values = out[column].astype(object)
            out[column] = values.where(values.notna(), None)
    if out.empty:
        for column in ("kind", "state", "bought", "family", "owner"):
            out[column] = []
        out["gpu"] = []
        out["cb"] = []
        return out
    category = out["charge_category"].map(_status)
    c_status = out["commitment_status"].map(_status)
    r_status = out["reservation_status"].map(_status)
    out["cb"] = [
        row_kind(t, None, u, p) == "capacity-block"
        for t, u, p in zip(
            out["commitment_type"], out["usage_type"], out["pricing_category"], strict=True
        )
    ]
    kinds = []
    for t, c, u, p, cid in zip(
        out["commitment_type"],
        out["commitment_category"],
        out["usage_type"],
        out["pricing_category"],
        out["commitment_id"],
        strict=True,
    ):
        kind = row_kind(t, c, u, p)
        if cid is not None and not t and not c and "savingsplan" in _squash(cid):
            kind = "savings-plan"  # FOCUS 1.0 rows without a type: the ARN says what it is
        if cid is None and kind != "capacity-block":
            kind = "capacity-reservation"
        kinds.append(kind)
    out["kind"] = kinds
    state = []
    subcategory = out["charge_subcategory"] if "charge_subcategory" in out else [None] * len(out)
    for cat, cs, rs, cid, sub in zip(
        category, c_status, r_status, out["commitment_id"], subcategory, strict=True
    ):
        if cat == "purchase":
            state.append("purchase")
        elif cat != "usage":
            state.append("other")  # credits, taxes, adjustments: not commitment use
        else:
            status = cs if cid is not None and cs in ("used", "unused") else rs
            if status not in ("used", "unused") and cid is not None:
                status = _subcategory_status(sub)
            state.append(status if status in ("used", "unused") else "run")
    out["state"] = state
    pricing = out["pricing_category"].map(_status)
    usage = out["usage_type"].map(_status)
    bought = []
    for st, cs, pc, ut, cb in zip(state, c_status, pricing, usage, out["cb"], strict=True):
        if st in ("unused", "purchase", "other"):
            bought.append("")
        elif cs == "used" or pc == "committed" or cb:
            bought.append("committed")
        elif pc == "dynamic" or "spot" in ut:
            bought.append("spot")
        else:
            bought.append("on-demand")
    out["bought"] = bought
    out["gpu"] = out["instance_type"].map(is_gpu_machine)
    out["family"] = [
        instance_family(t) if t and t != NO_INSTANCE_TYPE else NO_FAMILY
        for t in out["instance_type"]
    ]
    out["owner"] = [
        cid if cid is not None else rid
        for cid, rid in zip(out["commitment_id"], out["reservation_id"], strict=True)
    ]
    return out


def _commitments(rows: pd.DataFrame, terms: dict[str, Term], currency: str) -> list[Commitment]:
    import pandas as pd

    records: dict[str, list[int]] = {}
    for i, (cid, rid) in enumerate(zip(rows["commitment_id"], rows["reservation_id"], strict=True)):
        for key in dict.fromkeys(k for k in (cid, rid) if k is not None):
            records.setdefault(key, []).append(i)
    out: list[Commitment] = []
    for key, positions in records.items():
        part = rows.iloc[positions]
        own = part[part["commitment_id"] == key]
        as_reservation = part[(part["reservation_id"] == key) & part["commitment_id"].ne(key)]
        # Its own status: the commitment status for its commitment rows, the reservation status
        # for rows it holds as a reservation.
        state = list(own["state"]) + [
            _status(s) if _status(s) in ("used", "unused") else "run"
            for s in as_reservation["reservation_status"]
        ]
        part = pd.concat([own, as_reservation])
        cost = part["effective_cost"].to_numpy()
        hours = part["hours"].to_numpy()
        used = sum(c for c, s in zip(cost, state, strict=True) if s == "used")
        unused = sum(c for c, s in zip(cost, state, strict=True) if s == "unused")
        used_h = sum(h for h, s in zip(hours, state, strict=True) if s == "used")
        unused_h = sum(h for h, s in zip(hours, state, strict=True) if s == "unused")
        purchased = float(part.loc[part["state"] == "purchase", "billed_cost"].sum())
        kinds = list(part["kind"])
        kind = (
            "capacity-block"
            if "capacity-block" in kinds
            else (kinds[0] if len(own) else "capacity-reservation")
        )
        if used + unused == 0 and purchased > 0 and used_h + unused_h > 0:
            # Not amortized by the provider (an upfront Capacity Block): spread the purchase
            # over the hours the bill shows, used and unused.
            used = purchased * used_h / (used_h + unused_h)
            unused = purchased - used
        committed = used + unused
        types = sorted({t for t in part["instance_type"] if t and t != NO_INSTANCE_TYPE})
        zones = sorted({z for z in part["zone"] if z})
        term = terms.get(key)
        out.append(
            Commitment(
                commitment_id=key,
                kind=kind,
                category=next((c for c in part["commitment_category"] if c), None),
                type_name=next((c for c in part["commitment_type"] if c), None),
                instance_types=tuple(types),
                zones=tuple(zones),
                provider=next((p for p in part["provider"] if p), None),
                currency=next((c for c in part["currency"] if c), currency),
                committed=float(committed),
                used=float(used),
                unused=float(unused),
                utilisation=float(used / committed) if committed > 0 else None,
                used_hours=float(used_h),
                unused_hours=float(unused_h),
                purchased=purchased,
                end=term.end if term else None,
            )
        )
    out.sort(key=lambda c: (-c.unused, c.commitment_id))
    return out


def _families(rows: pd.DataFrame) -> list[FamilyRow]:
    out = []
    gpu = rows[rows["gpu"]]
    for family, part in gpu.groupby("family", sort=True):
        used = float(part.loc[part["state"] == "used", "effective_cost"].sum())
        unused = float(part.loc[part["state"] == "unused", "effective_cost"].sum())
        hours = part.groupby("bought")["hours"].sum()
        out.append(
            FamilyRow(
                family=str(family),
                committed=used + unused,
                used=used,
                unused=unused,
                utilisation=used / (used + unused) if used + unused > 0 else None,
                committed_hours=float(hours.get("committed", 0.0)),
                on_demand_hours=float(hours.get("on-demand", 0.0)),
                spot_hours=float(hours.get("spot", 0.0)),
            )
        )
    return out


def _coverage(rows: pd.DataFrame) -> list[CoverageRow]:
    ran = rows[rows["gpu"] & rows["bought"].isin(["committed", "on-demand", "spot"])]
    out = []
    for instance_type, part in ran.groupby("instance_type", sort=True):
        hours = part.groupby("bought")["hours"].sum()
        on_demand = part[part["bought"] == "on-demand"]
        out.append(
            CoverageRow(
                instance_type=str(instance_type),
                committed_hours=float(hours.get("committed", 0.0)),
                on_demand_hours=float(hours.get("on-demand", 0.0)),
                spot_hours=float(hours.get("spot", 0.0)),
                on_demand_cost=float(on_demand["effective_cost"].sum()),
            )
        )
    return out


def _overlaps(rows: pd.DataFrame) -> list[Overlap]:
    idle = rows[
        (rows["state"] == "unused")
        & rows["kind"].isin(RESERVATION_KINDS)
        & rows["instance_type"].ne(NO_INSTANCE_TYPE)
    ]
    # Instances running inside a reservation are its used capacity, not hours it could absorb.
    on_demand = rows[(rows["bought"] == "on-demand") & rows["gpu"] & rows["reservation_id"].isna()]
    pools: dict[tuple[datetime, str], list[list[object]]] = {}
    for start, itype, zone, hours, cost in zip(
        on_demand["start"],
        on_demand["instance_type"],
        on_demand["zone"],
        on_demand["hours"],
        on_demand["effective_cost"],
        strict=True,
    ):
        pools.setdefault((start, itype), []).append([zone, float(hours), float(cost)])
    found: dict[tuple[str, str, str | None], list[tuple[datetime, float, float]]] = {}
    kinds: dict[str, str] = {}
    ordered = idle.sort_values(["start", "owner"], kind="stable")
    for start, itype, zone, hours, owner, kind in zip(
        ordered["start"],
        ordered["instance_type"],
        ordered["zone"],
        ordered["hours"],
        ordered["owner"],
        ordered["kind"],
        strict=True,
    ):
        pool = pools.get((start, itype), [])
        want = float(hours)
        taken = money = 0.0
        # Same zone first, then rows that do not say their zone (or a reservation that doesn't).
        for entry in sorted(pool, key=lambda e: 0 if e[0] == zone else 1):
            other = entry[0]
            if zone and other and other != zone:
                continue
            have = float(entry[1])  # type: ignore[arg-type]
            if have <= 0 or want <= 0:
                continue
            take = min(have, want)
            rate = float(entry[2]) / have  # type: ignore[arg-type]
            entry[1] = have - take
            entry[2] = float(entry[2]) - rate * take  # type: ignore[arg-type]
            taken += take
            money += rate * take
            want -= take
        if taken > 0:
            kinds[str(owner)] = str(kind)
            found.setdefault((str(owner), str(itype), zone), []).append((start, taken, money))
    out = []
    for (owner, itype, zone), hits in found.items():
        out.append(
            Overlap(
                reservation_id=owner,
                kind=kinds[owner],
                instance_type=itype,
                zone=zone,
                hours=sum(h for _, h, _ in hits),
                money=sum(m for _, _, m in hits),
                periods=len({s for s, _, _ in hits}),
                first=min(s for s, _, _ in hits),
                last=max(s for s, _, _ in hits),
            )
        )
    out.sort(key=lambda o: (-o.money, o.reservation_id))
    return out


def expiring(terms: Sequence[Term], now: datetime, horizon: timedelta) -> tuple[Term, ...]:
    """Terms that end in ``(now, now + horizon]``, soonest first."""
    ahead = [t for t in terms if t.end is not None and now < t.end <= now + horizon]
    return tuple(sorted(ahead, key=lambda t: (t.end, t.commitment_id)))


def commitment_report(
    frame: pd.DataFrame,
    *,
    currency: str = "USD",
    terms: Sequence[Term] = (),
    now: datetime | None = None,
    horizon: timedelta = timedelta(days=30),
    notes: Sequence[str] = (),
) -> CommitmentReport:
    """Commitments, families, coverage, idle-while-on-demand overlaps and expiries."""
    rows = classify(frame).reset_index(drop=True)
    by_id = {t.commitment_id: t for t in terms}
    commitments = _commitments(rows, by_id, currency) if len(rows) else []
    used = float(rows.loc[rows["state"] == "used", "effective_cost"].sum()) if len(rows) else 0.0
    unused = (
        float(rows.loc[rows["state"] == "unused", "effective_cost"].sum()) if len(rows) else 0.0
    )
    report_notes = list(notes)
    unused_types = rows.loc[rows["state"] == "unused", "instance_type"] if len(rows) else None
    if unused_types is not None and unused_types.eq(NO_INSTANCE_TYPE).any():
        report_notes.append(
            "unused Spend commitments (Savings Plans) name no instance type: their unused money "
            "is in the commitment rows and totals, not in any family"
        )
    if len(rows) and not rows["zone"].notna().any():
        report_notes.append(
            "the bill names no availability zones: reservations are matched to on-demand hours "
            "by instance type only"
        )
    currencies = sorted({c for c in rows["currency"] if c}) if len(rows) else []
    if len(currencies) > 1:
        report_notes.append(
            f"the bill has several currencies ({', '.join(currencies)}): totals add them as one"
        )
    return CommitmentReport(
        currency=currencies[0] if currencies else currency,
        commitments=tuple(commitments),
        families=tuple(_families(rows)) if len(rows) else (),
        coverage=tuple(_coverage(rows)) if len(rows) else (),
        overlaps=tuple(_overlaps(rows)) if len(rows) else (),
        expiring=expiring(terms, now, horizon) if now is not None else (),
        committed=used + unused,
        used=used,
        unused=unused,
        notes=report_notes,
    )


def report_from_apis(
    commitments: Sequence[Commitment],
    coverage: Sequence[CoverageRow],
    *,
    terms: Sequence[Term] = (),
    now: datetime | None = None,
    horizon: timedelta = timedelta(days=30),
    notes: Sequence[str] = (),
) -> CommitmentReport:
    """The same report from what Cost Explorer computed itself: per-commitment figures as
    given, families from each commitment's instance family, no hourly overlaps (Cost Explorer
    has no hourly rows per reservation: the document says so)."""
    families: dict[str, list[float]] = {}
    for c in commitments:
        for itype in c.instance_types[:1]:
            family = instance_family(itype)
            entry = families.setdefault(family, [0.0, 0.0])
            entry[0] += c.used
            entry[1] += c.unused
    hours: dict[str, list[float]] = {}
    for row in coverage:
        entry = hours.setdefault(instance_family(row.instance_type), [0.0, 0.0, 0.0])
        entry[0] += row.committed_hours
        entry[1] += row.on_demand_hours
        entry[2] += row.spot_hours
    family_rows = []
    for family in sorted(set(families) | set(hours)):
        if not is_gpu_machine(f"{family}.x"):
            continue
        used, unused = families.get(family, [0.0, 0.0])
        committed_h, on_demand_h, spot_h = hours.get(family, [0.0, 0.0, 0.0])
        family_rows.append(
            FamilyRow(
                family,
                used + unused,
                used,
                unused,
                used / (used + unused) if used + unused > 0 else None,
                committed_h,
                on_demand_h,
                spot_h,
            )
        )
    by_id = {t.commitment_id: t for t in terms}
    ordered = sorted(
        (
            c if c.end is not None or c.commitment_id not in by_id else _with_end(c, by_id)
            for c in commitments
        ),
        key=lambda c: (-c.unused, c.commitment_id),
    )
    used = sum(c.used for c in commitments)
    unused = sum(c.unused for c in commitments)
    return CommitmentReport(
        currency="USD",
        commitments=tuple(ordered),
        families=tuple(family_rows),
        coverage=tuple(r for r in coverage if is_gpu_machine(r.instance_type)),
        overlaps=(),
        expiring=expiring(terms, now, horizon) if now is not None else (),
        committed=used + unused,
        used=used,
        unused=unused,
        notes=[
            *notes,
            "Cost Explorer reports commitments per period, not per hour and reservation: idle "
            "reservations beside on-demand hours need a FOCUS export (--focus PATH)",
        ],
    )


def _with_end(commitment: Commitment, terms: dict[str, Term]) -> Commitment:
    from dataclasses import replace

    return replace(commitment, end=terms[commitment.commitment_id].end)
