"""Departure planning quality and speed: plan 10,000 and 100,000 random
parcels (weights and volumes of real e-commerce parcels) onto charter
departures, and print the departures used against the lower bound
max(ceil(kg / kg capacity), ceil(m3 / m3 capacity), ceil(count / pieces)),
and the planning time against Python's sorted() over the same parcels.
Goal: at most 1.02 times the bound, and at most 50 times sorted().

    python bench/planning.py
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shipping.linehaul.planning import PlanDeparture, PlanParcel, plan_onto_departures

# (grams, mm3, pieces): a Tu-204C / 737F class charter HRB-SVX, about 18 t and
# 110 m3 of e-commerce cargo; a 20-foot truck Suifenhe-Vladivostok, 6 t, 30 m3;
# pieces are limited by handling (sorting bags), not by space.
FLEETS = {
    "charter": (18_000_000, 110 * 1_000_000_000, 12_000),
    "truck": (6_000_000, 30 * 1_000_000_000, 5_000),
}


def random_parcels(count: int, seed: int) -> list[PlanParcel]:
    rng = random.Random(seed)
    parcels = []
    for i in range(count):
        # Most cross-border parcels are light: lognormal around 0.9 kg, 50 g to 31 kg.
        weight = int(min(31_000, max(50, rng.lognormvariate(6.8, 0.9))))
        # Boxes of 15 x 10 x 5 cm up to 60 x 40 x 40 cm, loosely tied to weight.
        scale = min(1.0, 0.25 + weight / 12_000)
        dims = [rng.uniform(0.6, 1.0) * scale * side for side in (600, 400, 400)]
        volume = int(max(150 * 100 * 50, dims[0] * dims[1] * dims[2]))
        parcels.append(PlanParcel(i, weight, volume, rng.choice((4, 7, 9, 12, 24)), i))
    return parcels


def run(count: int, fleet: str) -> tuple[int, int, float, float]:
    capacity_g, capacity_mm3, capacity_pieces = FLEETS[fleet]
    parcels = random_parcels(count, seed=count)
    bound = max(
        math.ceil(sum(p.weight_g for p in parcels) / capacity_g),
        math.ceil(sum(p.volume_mm3 for p in parcels) / capacity_mm3),
        math.ceil(count / capacity_pieces),
    )
    departures = [
        PlanDeparture(i, capacity_g, capacity_mm3, capacity_pieces) for i in range(bound * 2)
    ]
    started = time.perf_counter()
    baseline = sorted(parcels, key=lambda p: (p.promise_days, p.order_key, p.id))
    sort_seconds = time.perf_counter() - started
    del baseline
    started = time.perf_counter()
    outcome = plan_onto_departures(parcels, departures)
    plan_seconds = time.perf_counter() - started
    assert not outcome.no_room, "the fleet was sized at twice the bound"
    used = len(set(outcome.assigned.values()))
    return used, bound, plan_seconds, sort_seconds


def main() -> None:
    for fleet in FLEETS:
        for count in (10_000, 100_000):
            used, bound, plan_s, sort_s = run(count, fleet)
            print(
                f"{fleet:>7} {count:>7} parcels: {used} departures, lower bound {bound}, "
                f"ratio {used / bound:.3f} (goal <= 1.02); planning {plan_s * 1000:.1f} ms, "
                f"sorted() {sort_s * 1000:.1f} ms, ratio {plan_s / sort_s:.1f} (goal <= 50)"
            )


if __name__ == "__main__":
    main()
