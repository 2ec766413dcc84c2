"""Risk checks on orders and the holds they place. The order's status moves
only through orders.services; the hold row carries the detail that buyers
never see (their order event says only that it is on review)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Buyer
from core.errors import Conflict
from core.locking import Rank, lock_held, lock_new, lock_rows
from orders.models import Order, OrderStatus
from orders.services import order_transition
from risk.models import Decision, RiskHold
from risk.rules import PAYMENT_KINDS, PLACEMENT_KINDS, Facts, Trip, risk_evaluate
from risk.selectors import risk_rules_active, risk_rules_active_and_orders_since

# Public wording on the order's events and webhooks: which rule tripped stays
# with staff, so nobody can probe the thresholds.
HOLD_REASON = "held for review"
APPROVE_REASON = "approved on review"
REJECT_REASON = "rejected on review"


def _delivery_country(order: Order) -> str:
    # Delivery regions are ISO 3166-2 codes: the country is their prefix.
    return order.region.split("-", 1)[0]


def order_risk_hold(
    *, order: Order, stage: str, trips: list[Trip], actor_id: int | None
) -> RiskHold:
    """Hold an order the caller has in its transaction: record why and move it
    to on hold, with its audit and outbox events."""
    reasons = [trip.as_data() for trip in trips]
    hold = RiskHold.objects.create(
        order=order, stage=stage, held_from=order.status, reasons=reasons
    )
    lock_new(Rank.RISK_HOLD, [hold.id])
    order_transition(
        order_id=order.id,
        to=OrderStatus.ON_HOLD,
        actor_id=actor_id,
        reason=HOLD_REASON,
        data={"risk_hold": hold.id, "stage": stage, "reasons": reasons},
    )
    return hold


def order_risk_check_placement(*, order: Order, actor_id: int | None) -> RiskHold | None:
    """Buyer velocity, new-account and cash-on-delivery caps, on a new order."""
    now = timezone.now()
    _buyer_lock(order.buyer_id)
    rules, orders_last_hour = risk_rules_active_and_orders_since(
        kinds=PLACEMENT_KINDS, buyer_id=order.buyer_id, since=now - timedelta(hours=1)
    )
    if not rules:
        return None
    facts = Facts(
        orders_last_hour=orders_last_hour,
        account_age=now - order.buyer.created_at,
        total_rub=order.total_rub,
        payment_method=order.payment_method,
        delivery_country=_delivery_country(order),
    )
    trips = risk_evaluate(rules=rules, facts=facts)
    if not trips:
        return None
    return order_risk_hold(
        order=order, stage=RiskHold.Stage.PLACEMENT, trips=trips, actor_id=actor_id
    )


def _buyer_lock(buyer_id: int) -> None:
    """One buyer's placements are counted one at a time: without the lock, two
    orders placed at once would each count only itself and the committed ones,
    and both pass an orders-per-hour limit. The buyer comes after the stock
    rows in the lock order (core.locking), so it adds no lock cycle."""
    lock_rows(Buyer.objects.filter(id=buyer_id).only("id"), rank=Rank.BUYER, ids=[buyer_id])


def order_risk_check_card(
    *, order: Order, card_country: str, actor_id: int | None
) -> RiskHold | None:
    """The card's issuing country against the delivery country, once paid."""
    rules = risk_rules_active(kinds=PAYMENT_KINDS)
    facts = Facts(card_country=card_country, delivery_country=_delivery_country(order))
    trips = risk_evaluate(rules=rules, facts=facts)
    if not trips:
        return None
    order.refresh_from_db(fields=["status", "event_seq"])
    return order_risk_hold(
        order=order, stage=RiskHold.Stage.PAYMENT, trips=trips, actor_id=actor_id
    )


def risk_hold_decide(*, order: Order, decision: str, actor_id: int | None, note: str) -> RiskHold:
    """Record staff's decision on the open hold of an order on hold, which the
    caller has locked. The caller then moves the order on."""
    holds = lock_rows(
        RiskHold.objects.filter(order_id=order.id, decision=Decision.PENDING),
        rank=Rank.RISK_HOLD,
        parent=[order.id],
    )
    if not holds or order.status != OrderStatus.ON_HOLD:
        raise Conflict(
            _("This order is not waiting for review."),
            code="order_not_on_hold",
            extra={"current_status": order.status},
        )
    hold = holds[0]
    hold.order = order
    hold.decision = decision
    hold.decided_by_id = actor_id
    hold.decided_at = timezone.now()
    hold.note = note[:300]
    hold.save(update_fields=["decision", "decided_by", "decided_at", "note"])
    return hold


def risk_holds_withdraw(*, order: Order, actor_id: int | None) -> int:
    """Close the open hold of an order cancelled while on review (by its
    buyer), under the order's lock held by the caller."""
    lock_held(Rank.ORDER, order.id)
    return RiskHold.objects.filter(order_id=order.id, decision=Decision.PENDING).update(
        decision=Decision.WITHDRAWN, decided_by_id=actor_id, decided_at=timezone.now()
    )
