"""How a payment's money divides between ledger accounts: pure arithmetic in
minor units (kopeks), exact (fractions, never floats), with no database.

A capture splits the payment into components; each refund takes a share of
each component so that the running total refunded from every component stays
proportional to what it was captured with, and the last refund returns
exactly what is left. Callers pass components in a fixed order; it breaks ties.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import TypeVar

from core.money import MINOR_UNITS

K = TypeVar("K", bound=Hashable)


def to_minor(amount: Decimal, currency: str) -> int:
    """Decimal money to whole minor units; refuses fractions of a kopek."""
    scaled = amount.scaleb(MINOR_UNITS[currency])
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


def from_minor(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-MINOR_UNITS[currency])


def merchant_net_shares(
    *, goods: int, goods_by_merchant: Mapping[K, Decimal], fee_rate: Decimal
) -> dict[K, int]:
    """Each merchant's goods share less the platform fee, in minor units,
    rounded down: floor(goods * weight / total weight * (1 - fee_rate)).

    The weights are the merchants' line totals in the order's price currency.
    Rounding down keeps the sum at or below goods * (1 - fee_rate), so the
    platform fee (goods minus the sum) is never negative and takes the
    rounding remainder."""
    if not Decimal(0) <= fee_rate < Decimal(1):
        raise ValueError(f"platform fee rate {fee_rate} is not in [0, 1)")
    weights = {m: Fraction(w) for m, w in goods_by_merchant.items()}
    total = sum(weights.values(), Fraction(0))
    if goods and (total <= 0 or any(w < 0 for w in weights.values())):
        raise ValueError("goods cannot be shared without positive merchant weights")
    keep = 1 - Fraction(fee_rate)
    return {m: floor(goods * w * keep / total) if goods else 0 for m, w in weights.items()}


def refund_split(
    *, captured: Mapping[K, int], refunded: Mapping[K, int], amount: int
) -> dict[K, int]:
    """Share `amount` (minor units) of a refund between the captured components.

    With P the payment, C the total refunded after this refund and A_k, r_k a
    component's captured and refunded amounts, every component is brought up
    to floor(A_k * C / P) when the refund allows it; the kopeks left over go
    one at a time to the components furthest below their exact share
    A_k * C / P. Guarantees: every share is >= 0, the shares add up to
    `amount`, no component is refunded beyond what it captured, the running
    total of a component never passes ceil(A_k * C / P), and a refund of
    everything that is left returns each component's remainder exactly."""
    keys = list(captured)
    total = sum(captured.values())
    done = {k: refunded.get(k, 0) for k in keys}
    left = total - sum(done.values())
    if not 0 < amount <= left:
        raise ValueError(f"refund of {amount} outside (0, {left}]")
    if any(done[k] > captured[k] for k in keys):
        raise ValueError("a component is refunded beyond its capture")
    after = total - left + amount
    exact = {k: Fraction(captured[k] * after, total) for k in keys}
    share = {k: max(0, floor(exact[k]) - done[k]) for k in keys}
    rank = {k: i for i, k in enumerate(keys)}

    def shortfall(k: K) -> Fraction:
        return exact[k] - done[k] - share[k]

    # Rare (an earlier refund's rounding left a component above a share that
    # this refund would otherwise need): take back where it is least short.
    excess = sum(share.values()) - amount
    while excess > 0:
        k = min((k for k in keys if share[k] > 0), key=lambda k: (shortfall(k), -rank[k]))
        share[k] -= 1
        excess -= 1
    while excess < 0:
        k = max(
            (k for k in keys if done[k] + share[k] < captured[k]),
            key=lambda k: (shortfall(k), -rank[k]),
        )
        share[k] += 1
        excess += 1
    return share


def shares_by_weight(*, total: int, weights: Mapping[K, Decimal]) -> dict[K, int]:
    """`total` minor units shared in proportion to the weights (largest
    remainder: floors first, then one unit each to the largest fractions,
    ties to the earlier key). The shares add up to `total` exactly."""
    fractions = {k: Fraction(w) for k, w in weights.items()}
    whole = sum(fractions.values(), Fraction(0))
    if total and (whole <= 0 or any(w < 0 for w in fractions.values())):
        raise ValueError("cannot share without positive weights")
    if not total:
        return {k: 0 for k in fractions}
    exact = {k: total * w / whole for k, w in fractions.items()}
    shares = {k: floor(v) for k, v in exact.items()}
    order = sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True)
    for k in order[: total - sum(shares.values())]:
        shares[k] += 1
    return shares
