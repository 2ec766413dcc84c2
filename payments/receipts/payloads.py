"""What a 54-FZ receipt says, in YooKassa's `receipt` shape (the sandbox and
the tests read the same shape).

- Goods are sold on their merchants' behalf: each goods line carries the
  agent data (`agent_type`, the merchant as `supplier`); shipping and duty
  are Amur's own lines (`service`, `another`).
- A payment before handover is a prepayment (`full_prepayment`); the
  handover closes it with a settlement receipt (`full_payment`, the money
  credited as `prepayment`); cash on delivery is paid and handed over at
  once (`full_payment`).
- The lines add up to the money exactly, to the kopek: the goods' roubles
  are shared over the lines by their yuan price, and a line whose share does
  not divide by its quantity is printed as two lines (unit prices a kopek
  apart), since a receipt line is a unit price times a quantity.

Receipt texts are Russian whatever the buyer's language: they are fiscal
documents registered with the tax service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, NotRequired, TypedDict

from django.conf import settings

from orders.models import Order, OrderLine
from payments.splits import from_minor, refund_split, shares_by_weight, to_minor

DESCRIPTION_MAX = 128
FULL_PREPAYMENT = "full_prepayment"
FULL_PAYMENT = "full_payment"
SHIPPING_DESCRIPTION = "Доставка"
DUTY_DESCRIPTION = "Таможенная пошлина"


class Money(TypedDict):
    value: str
    currency: str


class Supplier(TypedDict, total=False):
    name: str
    phone: str
    inn: str


class Item(TypedDict):
    description: str
    quantity: str
    amount: Money
    vat_code: int
    payment_mode: str
    payment_subject: str
    agent_type: NotRequired[str]
    supplier: NotRequired[Supplier]


class Customer(TypedDict, total=False):
    email: str
    phone: str


class ReceiptPayload(TypedDict):
    customer: Customer
    items: list[Item]
    tax_system_code: int
    # A receipt request of its own (settlement, cash) adds these.
    type: NotRequired[str]
    send: NotRequired[bool]
    payment_id: NotRequired[str]
    settlements: NotRequired[list[dict[str, Any]]]


def _money(units: int, currency: str) -> Money:
    return {"value": f"{from_minor(units, currency):.2f}", "currency": currency}


def _quantity(count: int) -> str:
    # YooKassa's SDK sends quantities through float ("1.0"): written the same
    # way here, the stored payload is the text YooKassa received.
    return str(float(count))


def item_total(item: Item) -> int:
    """An item's sum in minor units: unit price times quantity."""
    currency = item["amount"]["currency"]
    quantity = Decimal(item["quantity"])
    return to_minor(Decimal(item["amount"]["value"]) * quantity, currency)


def receipt_customer(*, order: Order) -> Customer:
    """Where the receipt is sent: the buyer's e-mail, and a phone (the
    buyer's, else the recipient's) as YooKassa wants it, digits only."""
    buyer = order.buyer
    customer: Customer = {}
    if buyer.user.email:
        customer["email"] = buyer.user.email
    phone = buyer.phone or order.recipient_phone
    if phone:
        customer["phone"] = phone.lstrip("+")
    return customer


def _line_items(
    *, description: str, total: int, quantity: int, currency: str, common: Mapping[str, Any]
) -> list[Item]:
    """One line of `quantity` units for `total` minor units, as one or two
    receipt items whose unit prices times quantities give `total` exactly."""
    unit, rest = divmod(total, quantity)
    parts = [(quantity - rest, unit), (rest, unit + 1)] if rest else [(quantity, unit)]
    return [
        {
            "description": description[:DESCRIPTION_MAX],
            "quantity": _quantity(count),
            "amount": _money(price, currency),
            **common,  # type: ignore[typeddict-item]
        }
        for count, price in parts
        if count
    ]


def _agent(line: OrderLine) -> dict[str, Any]:
    merchant = line.merchant
    supplier: Supplier = {"name": merchant.name[:256]}
    if merchant.phone:
        supplier["phone"] = merchant.phone.lstrip("+")  # E.164 digits, as YooKassa wants
    if merchant.inn:
        supplier["inn"] = merchant.inn
    return {"agent_type": settings.AMUR["RECEIPT_AGENT_TYPE"], "supplier": supplier}


def order_items(*, order: Order, payment_mode: str) -> list[Item]:
    """The order's goods, shipping and duty as receipt items adding up to its
    total (goods + shipping + duty, each already in whole kopeks)."""
    currency = order.currency
    lines = list(OrderLine.objects.filter(order_id=order.id).select_related("merchant"))
    goods = shares_by_weight(
        total=to_minor(order.goods_rub, currency),
        weights={line.id: line.line_total_cny for line in lines},
    )
    items: list[Item] = []
    goods_vat = settings.AMUR["RECEIPT_VAT_CODE_GOODS"]
    services_vat = settings.AMUR["RECEIPT_VAT_CODE_SERVICES"]
    for line in lines:
        common = {
            "vat_code": goods_vat,
            "payment_mode": payment_mode,
            "payment_subject": "commodity",
            **_agent(line),
        }
        items += _line_items(
            description=line.name,
            total=goods[line.id],
            quantity=line.quantity,
            currency=currency,
            common=common,
        )
    for description, amount, subject in (
        (SHIPPING_DESCRIPTION, order.shipping_rub, "service"),
        (DUTY_DESCRIPTION, order.duty_rub, "another"),
    ):
        units = to_minor(amount, currency)
        if units:
            items += _line_items(
                description=description,
                total=units,
                quantity=1,
                currency=currency,
                common={
                    "vat_code": services_vat,
                    "payment_mode": payment_mode,
                    "payment_subject": subject,
                },
            )
    return items


def payment_receipt(*, order: Order) -> ReceiptPayload:
    """The receipt sent with an online payment: a full prepayment of the
    goods, shipping and duty."""
    return {
        "customer": receipt_customer(order=order),
        "items": order_items(order=order, payment_mode=FULL_PREPAYMENT),
        "tax_system_code": settings.AMUR["RECEIPT_TAX_SYSTEM_CODE"],
    }


def settlement_receipt(*, order: Order, payment_reference: str, amount: Decimal) -> ReceiptPayload:
    """The receipt of the handover: the prepayment credited against the
    goods and services now provided (YooKassa: a receipt request of type
    payment for the paid payment)."""
    return {
        "type": "payment",
        "payment_id": payment_reference,
        "send": True,
        "customer": receipt_customer(order=order),
        "items": order_items(order=order, payment_mode=FULL_PAYMENT),
        "settlements": [{"type": "prepayment", "amount": _money(to_minor(amount, "RUB"), "RUB")}],
        "tax_system_code": settings.AMUR["RECEIPT_TAX_SYSTEM_CODE"],
    }


def cod_receipt(*, order: Order, amount: Decimal) -> ReceiptPayload:
    """Cash taken by the courier at the door: paid and handed over at once."""
    currency = order.currency
    return {
        "type": "payment",
        "send": True,
        "customer": receipt_customer(order=order),
        "items": order_items(order=order, payment_mode=FULL_PAYMENT),
        "settlements": [{"type": "cash", "amount": _money(to_minor(amount, currency), currency)}],
        "tax_system_code": settings.AMUR["RECEIPT_TAX_SYSTEM_CODE"],
    }


def refund_items(*, paid: Sequence[Item], earlier: Sequence[int], amount: int) -> list[Item]:
    """The items of a refund of `amount` minor units after refunds of
    `earlier` amounts: the paid items share each refund in proportion to
    their sums (payments.splits.refund_split, replayed over the earlier
    refunds), so refunds one after another never return more of an item than
    was paid and the last one returns exactly what is left. An item returned
    whole keeps its quantity; part of one is printed as one unit of that sum."""
    totals = {index: item_total(item) for index, item in enumerate(paid)}
    done = {index: 0 for index in totals}
    for before in earlier:
        for index, units in refund_split(captured=totals, refunded=done, amount=before).items():
            done[index] += units
    items: list[Item] = []
    for index, share in refund_split(captured=totals, refunded=done, amount=amount).items():
        if not share:
            continue
        item = paid[index]
        whole = share == totals[index]
        items.append(
            {
                **item,
                "quantity": item["quantity"] if whole else _quantity(1),
                "amount": item["amount"] if whole else _money(share, item["amount"]["currency"]),
            }
        )
    return items


def refund_receipt(*, paid: ReceiptPayload, earlier: Sequence[int], amount: int) -> ReceiptPayload:
    """The receipt of a refund: the items of the receipt that took the money
    (or of the settlement receipt, once the goods were handed over), shared
    as `refund_items` says, to the same customer."""
    return {
        "customer": paid["customer"],
        "items": refund_items(paid=paid["items"], earlier=earlier, amount=amount),
        "tax_system_code": paid["tax_system_code"],
    }


def receipt_problems(payload: Mapping[str, Any], *, amount: Decimal | None = None) -> list[str]:
    """What a fiscal data operator would refuse in a receipt (the sandbox
    checks receipts with it): no contact, no items, a description over 128
    characters, items not adding up to the money."""
    problems = []
    customer = payload.get("customer") or {}
    if not (customer.get("email") or customer.get("phone")):
        problems.append("customer: an e-mail or a phone is required")
    items = payload.get("items") or []
    if not items:
        problems.append("items: at least one is required")
    for index, item in enumerate(items):
        if not 0 < len(item.get("description", "")) <= DESCRIPTION_MAX:
            problems.append(f"items[{index}].description: 1 to {DESCRIPTION_MAX} characters")
    if amount is not None and items and not problems:
        total = sum(item_total(item) for item in items)
        if total != to_minor(amount, items[0]["amount"]["currency"]):
            problems.append(f"items: they add up to {from_minor(total, 'RUB')}, not {amount}")
    return problems
