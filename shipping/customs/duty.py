"""Import duty on an order's planned parcels, from the rule in force: pure
functions over Decimals (docs/customs-duty.md has the rules and worked
examples).

`parcels_duty` is the one place the checkout computes duty: it takes the
rule's terms and the planned parcels and returns each parcel's duty and
import VAT in EUR, to the cent. A rule's scope says what the thresholds are
measured on: each parcel alone (2020 rule), or the purchase, all the
order's parcels that cross the border together (2026 rule), whose duty is
then shared out over those parcels in proportion to their value, the cents
adding up exactly. Parcels that do not cross the border (goods already in a
Russian warehouse) pay nothing and count for nothing.

`parcel_duties_from_plan` gives packed parcels the duty the buyer paid: a
parcel packed as planned takes its planned parcel's duty, repacked ones share
what is left of their warehouse's in proportion to their value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from core.errors import Unprocessable
from shipping.customs.models import DutyBasis, DutyRule, DutyScope

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DutyTerms:
    """A duty rule as the computation needs it (cached, free of the ORM)."""

    valid_from: date
    scope: str
    value_threshold_eur: Decimal
    weight_threshold_kg: Decimal | None
    value_basis: str
    rate: Decimal
    weight_basis: str
    min_eur_per_kg: Decimal
    import_vat_rate: Decimal | None = None
    import_vat_from_first_euro: bool = False
    excluded_hs_prefixes: tuple[str, ...] = ()

    @classmethod
    def of(cls, rule: DutyRule, excluded: Sequence[str] = ()) -> DutyTerms:
        return cls(
            valid_from=rule.valid_from,
            scope=rule.scope,
            value_threshold_eur=rule.value_threshold_eur,
            weight_threshold_kg=rule.weight_threshold_kg,
            value_basis=rule.value_basis,
            rate=rule.rate,
            weight_basis=rule.weight_basis,
            min_eur_per_kg=rule.min_eur_per_kg,
            import_vat_rate=rule.import_vat_rate,
            import_vat_from_first_euro=rule.import_vat_from_first_euro,
            excluded_hs_prefixes=tuple(sorted(excluded)),
        )

    def excludes(self, hs_code: str) -> bool:
        return any(hs_code.startswith(prefix) for prefix in self.excluded_hs_prefixes)


@dataclass(frozen=True)
class DutyParcel:
    """A planned parcel as customs see it."""

    value_eur: Decimal
    weight_g: int
    crosses_border: bool
    hs_codes: Mapping[str, str]  # sku -> HS code of the goods in it


@dataclass(frozen=True)
class ParcelDuty:
    duty_eur: Decimal
    vat_eur: Decimal

    @property
    def total_eur(self) -> Decimal:
        """What the buyer pays customs for the parcel."""
        return self.duty_eur + self.vat_eur


NO_DUTY = ParcelDuty(duty_eur=ZERO, vat_eur=ZERO)


class GoodsNotEligible(Unprocessable):
    code = "customs_simplified_not_allowed"
    default_message = _(
        "Some goods cannot be sent from abroad to a private buyer with the simplified"
        " e-commerce declaration."
    )


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


def duty_eur(*, terms: DutyTerms, value_eur: Decimal, weight_kg: Decimal) -> ParcelDuty:
    """Duty and VAT on one dutiable unit (a parcel, or a whole purchase)."""
    value_over = value_eur > terms.value_threshold_eur
    weight_over = terms.weight_threshold_kg is not None and weight_kg > terms.weight_threshold_kg
    duty = ZERO
    if value_over or weight_over:
        value_base = (
            value_eur
            if terms.value_basis == DutyBasis.WHOLE
            else value_eur - terms.value_threshold_eur
        )
        if terms.weight_basis == DutyBasis.WHOLE:
            weight_base = weight_kg
        else:
            assert terms.weight_threshold_kg is not None  # a database constraint
            weight_base = weight_kg - terms.weight_threshold_kg
        duty = cents(
            max(max(ZERO, value_base) * terms.rate, max(ZERO, weight_base) * terms.min_eur_per_kg)
        )
    vat = ZERO
    if terms.import_vat_rate is not None and (duty > 0 or terms.import_vat_from_first_euro):
        vat = cents((value_eur + duty) * terms.import_vat_rate)
    return ParcelDuty(duty_eur=duty, vat_eur=vat)


def parcels_duty(*, terms: DutyTerms, parcels: Sequence[DutyParcel]) -> list[ParcelDuty]:
    """Each parcel's duty under the rule, in the order given. Goods the rule
    excludes from the simplified declaration in a parcel that crosses the
    border are refused (422, with their SKUs)."""
    excluded = sorted(
        {
            sku
            for parcel in parcels
            if parcel.crosses_border
            for sku, hs_code in parcel.hs_codes.items()
            if terms.excludes(hs_code)
        }
    )
    if excluded:
        raise GoodsNotEligible(
            fields={"lines": excluded},
            extra={"skus": excluded, "rule": terms.valid_from.isoformat()},
        )
    abroad = [i for i, parcel in enumerate(parcels) if parcel.crosses_border]
    duties = [NO_DUTY] * len(parcels)
    if terms.scope == DutyScope.PARCEL:
        for i in abroad:
            duties[i] = duty_eur(
                terms=terms,
                value_eur=parcels[i].value_eur,
                weight_kg=Decimal(parcels[i].weight_g) / 1000,
            )
        return duties
    if not abroad:
        return duties
    purchase = duty_eur(
        terms=terms,
        value_eur=sum((parcels[i].value_eur for i in abroad), ZERO),
        weight_kg=Decimal(sum(parcels[i].weight_g for i in abroad)) / 1000,
    )
    weights = [parcels[i].value_eur for i in abroad]
    for i, duty, vat in zip(
        abroad,
        share_out(purchase.duty_eur, weights),
        share_out(purchase.vat_eur, weights),
        strict=True,
    ):
        duties[i] = ParcelDuty(duty_eur=duty, vat_eur=vat)
    return duties


def share_out(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """`amount` in cents over the weights, largest remainder first (ties to
    the earlier): the parts add up to the amount exactly. Equal parts when
    every weight is zero."""
    if not weights:
        return []
    total_cents = int((amount / CENT).to_integral_value(ROUND_HALF_UP))
    total_weight = sum(weights, Decimal(0))
    if total_weight <= 0:
        weights = [Decimal(1)] * len(weights)
        total_weight = Decimal(len(weights))
    exact = [Decimal(total_cents) * w / total_weight for w in weights]
    parts = [int(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: total_cents - sum(parts)]:
        parts[i] += 1
    return [Decimal(p) * CENT for p in parts]


@dataclass(frozen=True)
class PackedContents:
    """A packed parcel for `parcel_duties_from_plan`."""

    warehouse_id: int
    items: Mapping[int, int]  # product id -> quantity
    value_cny: Decimal


def parcel_duties_from_plan(
    *, plan: Sequence[Mapping[str, Any]], parcels: Sequence[PackedContents]
) -> list[tuple[Decimal, Decimal] | None]:
    """(duty EUR, duty RUB) per packed parcel, from the duty the order's plan
    (as quoted and charged) gave its planned parcels; None where the plan
    does not record it (orders placed before it did)."""
    planned: dict[int, list[dict[str, Any]]] = {}
    for group in plan:
        planned[group["warehouse_id"]] = [dict(p) for p in group.get("parcels", [])]
    result: list[tuple[Decimal, Decimal] | None] = [None] * len(parcels)
    unmatched: dict[int, list[int]] = {}
    for index, parcel in enumerate(parcels):
        candidates = planned.get(parcel.warehouse_id, [])
        if any("duty_eur" not in p or "duty_rub" not in p for p in candidates):
            continue
        wanted = {str(k): v for k, v in parcel.items.items()}
        match = next((p for p in candidates if p["items"] == wanted), None)
        if match is None:
            unmatched.setdefault(parcel.warehouse_id, []).append(index)
            continue
        candidates.remove(match)
        result[index] = (Decimal(match["duty_eur"]), Decimal(match["duty_rub"]))
    for warehouse_id, indexes in unmatched.items():
        left = planned[warehouse_id]
        weights = [parcels[i].value_cny for i in indexes]
        # One merchant's part of a warehouse's goods packed on its own (a
        # fulfilment order): it takes its share of the duty by value, the
        # rest stays with the goods still to be packed.
        rest = sum((Decimal(p.get("value_cny", "0")) for p in left), ZERO) - sum(weights, ZERO)
        shares = [*weights, rest] if rest > 0 else weights
        eur = share_out(sum((Decimal(p["duty_eur"]) for p in left), ZERO), shares)
        rub = share_out(sum((Decimal(p["duty_rub"]) for p in left), ZERO), shares)
        for i, part_eur, part_rub in zip(indexes, eur, rub, strict=False):
            result[i] = (part_eur, part_rub)
    return result
