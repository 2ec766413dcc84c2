"""Customs: the CN 23 declaration of a parcel, and the staff's resolution of a
customs hold.

`customs_declaration` reads the parcel, its order and its contents and returns
the CN 23 data: the category (sale of goods), the sender (the merchants and the
origin warehouse), the addressee (the order's recipient, with the identity
document and INN customs want for an express parcel to an individual), one
item per parcel line with its description, quantity, net weight, value in
CNY, HS code, country of origin and the link to the good, and the customs
payments the buyer prepaid for the parcel. `declarations_for_parcels` builds many at once for the
departure manifests (`shipping.manifests`).

A hold comes from a courier's `customs_held` scan. Operator staff resolve it:
`parcel_customs_release` adds a `customs_released` event (the parcel is in
transit again), `parcel_customs_return` a `returned` event with the reason
"customs" (refused by customs, back to the sender)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import NotFound, Unprocessable
from core.identity import RecipientIdentity
from core.regions import REGIONS
from orders.models import OrderRecipientIdentity
from shipping.fulfilment.models import Parcel, ParcelLine

CATEGORY_SALE_OF_GOODS = "sale_of_goods"


CURRENCY = "CNY"


HS_CODE = re.compile(r"\d{6,10}")


KG = Decimal("0.001")


CENT = Decimal("0.01")


class HsCodeInvalid(Unprocessable):
    """A product's HS code cannot go on a customs declaration."""

    code = "hs_code_invalid"
    default_message = _("A product's HS code must have 6 to 10 digits to be declared.")


@dataclass(frozen=True)
class DeclarationMerchant:
    code: str
    name: str
    name_zh: str


@dataclass(frozen=True)
class Sender:
    """The merchants who sold the goods, shipping from the origin warehouse."""

    merchants: tuple[DeclarationMerchant, ...]
    warehouse_code: str
    warehouse_name: str
    address: str
    city: str
    country: str

    @property
    def name(self) -> str:
        return "; ".join(f"{m.name} {m.name_zh}" if m.name_zh else m.name for m in self.merchants)


@dataclass(frozen=True)
class Addressee:
    name: str
    phone: str
    street: str
    city: str
    postcode: str
    region: str  # ISO 3166-2:RU code
    region_name: str
    country: str  # ISO 3166-1 alpha-2
    # None for a parcel within Russia, or an order closed and anonymised.
    identity: RecipientIdentity | None = None

    @property
    def address(self) -> str:
        """One line, as the Russian post writes it: street, city, region,
        postcode, country."""
        return f"{self.street}, {self.city}, {self.region_name}, {self.postcode}, Россия"


@dataclass(frozen=True)
class DeclarationItem:
    sku: str
    description_ru: str
    description_zh: str
    quantity: int
    net_weight_kg: Decimal  # catalogue weight x quantity, 3 decimals
    value: Decimal  # unit price x quantity, 2 decimals
    currency: str
    hs_code: str
    origin_country: str
    product_url: str = ""


@dataclass(frozen=True)
class Declaration:
    """The CN 23 data of one parcel."""

    tracking_number: str
    order_number: str  # the invoice the goods were sold on
    category: str
    sender: Sender
    addressee: Addressee
    items: tuple[DeclarationItem, ...]
    currency: str
    total_quantity: int
    total_value: Decimal
    total_net_weight_kg: Decimal
    gross_weight_kg: Decimal  # the parcel as weighed at packing
    # Customs payments prepaid by the buyer (duty and any import VAT); None
    # for parcels packed before they were recorded.
    duty_eur: Decimal | None = None
    duty_rub: Decimal | None = None


def kg(grams: int) -> Decimal:
    return (Decimal(grams) / 1000).quantize(KG)


def customs_declaration(*, parcel_id: int) -> Declaration:
    """The CN 23 declaration of a parcel. A missing parcel raises NotFound, a
    product whose HS code has fewer than 6 digits HsCodeInvalid (422)."""
    parcel = Parcel.objects.select_related("order", "warehouse").filter(id=parcel_id).first()
    if parcel is None:
        raise NotFound()
    return declarations_for_parcels(parcels=[parcel])[parcel.id]


def declarations_for_parcels(*, parcels: Sequence[Parcel]) -> dict[int, Declaration]:
    """The declarations of parcels loaded with their order and warehouse, by
    parcel id, in one query for all their lines."""
    lines_of: dict[int, list[ParcelLine]] = {p.id: [] for p in parcels}
    for parcel_line in (
        ParcelLine.objects.filter(parcel_id__in=list(lines_of))
        .select_related("line__product", "line__merchant")
        .order_by("parcel_id", "id")
    ):
        lines_of[parcel_line.parcel_id].append(parcel_line)
    identities = {
        saved.order_id: saved.identity()
        for saved in OrderRecipientIdentity.objects.filter(
            order_id__in={p.order_id for p in parcels}
        )
    }
    return {p.id: _declaration(p, lines_of[p.id], identities.get(p.order_id)) for p in parcels}


def _declaration(
    parcel: Parcel, lines: Sequence[ParcelLine], identity: RecipientIdentity | None
) -> Declaration:
    _check_hs_codes(parcel, lines)
    order, warehouse = parcel.order, parcel.warehouse
    merchants = {pl.line.merchant_id: pl.line.merchant for pl in lines}
    items = tuple(
        DeclarationItem(
            sku=pl.line.sku,
            description_ru=pl.line.name or pl.line.product.name_ru,
            description_zh=pl.line.product.name_zh,
            quantity=pl.quantity,
            net_weight_kg=kg(pl.line.product.weight_g * pl.quantity),
            value=(pl.line.unit_price_cny * pl.quantity).quantize(CENT, ROUND_HALF_UP),
            currency=CURRENCY,
            hs_code=pl.line.product.hs_code,
            origin_country=pl.line.product.origin_country,
            product_url=pl.line.product_url,
        )
        for pl in lines
    )
    return Declaration(
        tracking_number=parcel.tracking_number,
        order_number=order.number,
        category=CATEGORY_SALE_OF_GOODS,
        sender=Sender(
            merchants=tuple(
                DeclarationMerchant(code=m.code, name=m.name, name_zh=m.name_zh)
                for m in merchants.values()
            ),
            warehouse_code=warehouse.code,
            warehouse_name=warehouse.name,
            address=warehouse.address,
            city=warehouse.city,
            country=warehouse.country,
        ),
        addressee=Addressee(
            name=order.recipient_name,
            phone=order.recipient_phone,
            street=order.street,
            city=order.city,
            postcode=order.postcode,
            region=order.region,
            region_name=REGIONS.get(order.region, order.region),
            country="RU",
            identity=identity,
        ),
        items=items,
        currency=CURRENCY,
        total_quantity=sum(item.quantity for item in items),
        total_value=sum((item.value for item in items), Decimal("0.00")),
        total_net_weight_kg=sum((item.net_weight_kg for item in items), Decimal("0.000")),
        gross_weight_kg=kg(parcel.weight_g),
        duty_eur=parcel.duty_eur,
        duty_rub=parcel.duty_rub,
    )


def _check_hs_codes(parcel: Parcel, lines: Sequence[ParcelLine]) -> None:
    bad = {
        f"items[{index}].hs_code": [
            gettext("%(sku)s: HS code %(code)s has fewer than 6 digits or is not a number.")
            % {"sku": pl.line.sku, "code": repr(pl.line.product.hs_code)}
        ]
        for index, pl in enumerate(lines)
        if not HS_CODE.fullmatch(pl.line.product.hs_code)
    }
    if bad:
        raise HsCodeInvalid(fields=bad, extra={"tracking_number": parcel.tracking_number})
