"""Where an order's lines are taken from: the replaceable allocation strategy.

`allocate` is a pure function: given what each warehouse can deliver to the
buyer's region (and how fast) and what each holds, it returns a plan. The
default strategy is the one documented in docs/architecture.md:

1. one warehouse if any holds every line: the one with the shortest promise;
2. otherwise the split with the fewest parcels (warehouses), found by a greedy
   cover that prefers the warehouse covering most remaining lines, then the
   shortest promise;
3. a line is never split across warehouses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class WarehouseOption:
    warehouse_id: int
    min_days: int
    max_days: int

    @property
    def speed_key(self) -> tuple[int, int, int]:
        return (self.max_days, self.min_days, self.warehouse_id)


@dataclass(frozen=True)
class Need:
    product_id: int
    quantity: int


# (warehouse_id, product_id) -> units available
Availability = Mapping[tuple[int, int], int]
# warehouse_id -> product ids taken from it
Plan = dict[int, list[int]]
Strategy = Callable[[Sequence[Need], Sequence[WarehouseOption], Availability], Plan | None]


def fastest_fewest_parcels(
    needs: Sequence[Need], options: Sequence[WarehouseOption], availability: Availability
) -> Plan | None:
    ordered = sorted(options, key=lambda o: o.speed_key)

    def can_serve(option: WarehouseOption, need: Need) -> bool:
        return availability.get((option.warehouse_id, need.product_id), 0) >= need.quantity

    for option in ordered:
        if all(can_serve(option, need) for need in needs):
            return {option.warehouse_id: [n.product_id for n in needs]}

    remaining = list(needs)
    plan: Plan = {}
    while remaining:
        best: tuple[WarehouseOption, list[Need]] | None = None
        for option in ordered:
            if option.warehouse_id in plan:
                continue
            covered = [need for need in remaining if can_serve(option, need)]
            if covered and (best is None or len(covered) > len(best[1])):
                best = (option, covered)
        if best is None:
            return None
        option, covered = best
        plan[option.warehouse_id] = [n.product_id for n in covered]
        remaining = [n for n in remaining if n not in covered]
    return plan


DEFAULT_STRATEGY: Strategy = fastest_fewest_parcels


def allocate(
    *,
    needs: Sequence[Need],
    options: Sequence[WarehouseOption],
    availability: Availability,
    strategy: Strategy = DEFAULT_STRATEGY,
) -> Plan | None:
    """None when the lines cannot be served from the warehouses on offer."""
    return strategy(needs, options, availability)
