from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from catalogue.models import ListingImage
from core.admin_base import (
    MerchantReadableAdmin,
    MerchantReadableInline,
    ReadOnlyAdmin,
)
from core.api import csv_response, pdf_response
from core.errors import ApplicationError
from core.identity import mask_phone
from core.regions import REGIONS
from core.tenancy import is_operator_staff, sees_personal_data
from shipping.customs.holds import parcel_customs_release, parcel_customs_return
from shipping.fulfilment.documents import parcel_labels_pdf
from shipping.fulfilment.models import (
    FulfilmentOrder,
    FulfilmentOrderEvent,
    FulfilmentOrderLine,
    Parcel,
    ParcelLine,
    TrackingSeries,
)
from shipping.fulfilment.part_documents import fulfilment_packing_slips_pdf
from shipping.tracking.models import TrackingEvent


class ParcelLineInline(MerchantReadableInline):
    model = ParcelLine
    fields = ("line", "quantity")
    readonly_fields = fields


class TrackingEventInline(MerchantReadableInline):
    model = TrackingEvent
    fields = ("occurred_at", "event", "status", "emsevt", "location", "source", "courier")
    readonly_fields = fields


@admin.register(Parcel)
class ParcelAdmin(ReadOnlyAdmin, MerchantReadableAdmin):
    merchant_lookup = "fulfilment_order__merchant"
    actions = ["print_labels", "customs_release", "customs_return"]

    @admin.action(description=_("Print labels for the selected parcels"))
    def print_labels(self, request: HttpRequest, queryset: QuerySet[Parcel]) -> HttpResponse:
        ids = list(queryset.order_by("id").values_list("id", flat=True))
        return pdf_response(parcel_labels_pdf(parcel_ids=ids), "labels.pdf")

    def has_operator_permission(self, request: HttpRequest) -> bool:
        """Customs holds are resolved by operator staff, never by a merchant."""
        return is_operator_staff(request.user)

    def _hold_resolve(
        self,
        request: HttpRequest,
        queryset: QuerySet[Parcel],
        service: Callable[..., Parcel],
    ) -> None:
        done: list[str] = []
        for parcel in queryset.order_by("id"):
            try:
                service(parcel_id=parcel.id, actor_id=request.user.pk)
            except ApplicationError as error:
                messages.error(request, f"{parcel.tracking_number}: {error.message}")
            else:
                done.append(parcel.tracking_number)
        if done:
            messages.success(request, ", ".join(done))

    @admin.action(description=_("Release from customs"), permissions=["operator"])
    def customs_release(self, request: HttpRequest, queryset: QuerySet[Parcel]) -> None:
        self._hold_resolve(request, queryset, parcel_customs_release)

    @admin.action(description=_("Return to sender (refused by customs)"), permissions=["operator"])
    def customs_return(self, request: HttpRequest, queryset: QuerySet[Parcel]) -> None:
        self._hold_resolve(request, queryset, parcel_customs_return)

    list_display = (
        "tracking_number",
        "fulfilment_order",
        "status",
        "warehouse",
        "lane",
        "departure",
        "weight_g",
    )
    list_filter = ("status", "lane", "warehouse")
    search_fields = ("tracking_number", "fulfilment_order__number", "order__number")
    list_select_related = ("fulfilment_order", "warehouse", "lane", "departure")
    readonly_fields = ("order",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """The order itself (its link, its totals) is the operator's: a
        merchant's page names the parcel's fulfilment order."""
        fields = [str(f) for f in super().get_fields(request, obj)]
        if not is_operator_staff(request.user) and "order" in fields:
            fields.remove("order")
        return fields

    inlines = [ParcelLineInline, TrackingEventInline]


@admin.register(TrackingSeries)
class TrackingSeriesAdmin(admin.ModelAdmin):
    list_display = ("prefix", "country", "next_serial")


class FulfilmentOrderLineInline(MerchantReadableInline):
    model = FulfilmentOrderLine
    fields = ("picture", "sku", "name", "quantity", "unit_price_cny", "line_total_cny")
    readonly_fields = fields
    verbose_name = _("line")
    verbose_name_plural = _("lines")

    def get_queryset(self, request: HttpRequest) -> QuerySet[FulfilmentOrderLine]:
        return super().get_queryset(request).select_related("line__product")

    @admin.display(description=_("picture"))
    def picture(self, obj: FulfilmentOrderLine) -> str:
        image = (
            ListingImage.objects.filter(listing__products=obj.line.product_id)
            .order_by("position", "id")
            .first()
        )
        if image is None or not image.image:
            return "—"
        return format_html('<img src="{}" width="64" height="64" alt="">', image.thumbnail.url)

    @admin.display(description=_("SKU"))
    def sku(self, obj: FulfilmentOrderLine) -> str:
        return obj.line.sku

    @admin.display(description=_("name"))
    def name(self, obj: FulfilmentOrderLine) -> str:
        return obj.line.name

    @admin.display(description=_("unit price (CNY)"))
    def unit_price_cny(self, obj: FulfilmentOrderLine) -> str:
        return f"{obj.line.unit_price_cny:.2f}"

    @admin.display(description=_("line total (CNY)"))
    def line_total_cny(self, obj: FulfilmentOrderLine) -> str:
        return f"{obj.line.unit_price_cny * obj.quantity:.2f}"


class FulfilmentParcelInline(MerchantReadableInline):
    model = Parcel
    fields = ("tracking_number", "status", "lane", "weight_g", "departure")
    readonly_fields = fields
    show_change_link = True


class FulfilmentOrderEventInline(MerchantReadableInline):
    model = FulfilmentOrderEvent
    fields = ("created_at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields


FULFILMENT_CSV_COLUMNS = (
    "fulfilment_order",
    "status",
    "warehouse",
    "created_at",
    "sku",
    "name",
    "quantity",
    "unit_price_cny",
    "line_total_cny",
    "tracking_numbers",
)


def fulfilment_orders_csv(*, fulfilment_order_ids: list[int]) -> str:
    """One row per line of the fulfilment orders given: a merchant's own
    goods, prices and parcels, nothing of the rest of the order."""
    parcels: dict[int, list[str]] = {}
    for part_id, number in (
        Parcel.objects.filter(fulfilment_order_id__in=fulfilment_order_ids)
        .order_by("id")
        .values_list("fulfilment_order_id", "tracking_number")
    ):
        parcels.setdefault(part_id or 0, []).append(number)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FULFILMENT_CSV_COLUMNS)
    for fl in (
        FulfilmentOrderLine.objects.filter(fulfilment_order_id__in=fulfilment_order_ids)
        .select_related("fulfilment_order__warehouse", "line")
        .order_by("fulfilment_order_id", "id")
    ):
        part = fl.fulfilment_order
        writer.writerow(
            [
                part.number,
                part.status,
                part.warehouse.code,
                part.created_at.isoformat(),
                fl.line.sku,
                fl.line.name,
                fl.quantity,
                f"{fl.line.unit_price_cny:.2f}",
                f"{fl.line.unit_price_cny * fl.quantity:.2f}",
                " ".join(parcels.get(part.id, [])),
            ]
        )
    return out.getvalue()


class FulfilmentOrderBaseAdmin(ReadOnlyAdmin, MerchantReadableAdmin):
    """A merchant's part of an order: its lines, parcels and steps, and the
    recipient as packing needs it. Registered by commands (commands/admin.py)
    with the pack action, whose command lies above this app."""

    list_display = (
        "number",
        "status",
        "warehouse",
        "merchant",
        "goods_cny",
        "parcel_count",
        "created_at",
    )
    list_filter = ("status", "warehouse")
    search_fields = ("number", "lines__line__sku", "parcels__tracking_number")
    list_select_related = ("warehouse", "merchant")
    date_hierarchy = "created_at"
    fields = (
        "number",
        "status",
        "merchant",
        "warehouse",
        "goods_cny",
        "recipient",
        "recipient_phone",
        "address",
        "created_at",
        "updated_at",
    )
    readonly_fields = (*fields, "recipient_phone_masked")
    inlines = [FulfilmentOrderLineInline, FulfilmentParcelInline, FulfilmentOrderEventInline]
    actions = ["print_labels", "print_packing_slips", "export_csv"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[FulfilmentOrder]:
        return (
            super()
            .get_queryset(request)
            .select_related("order")
            .annotate(parcels_n=Count("parcels", distinct=True))
        )

    @admin.display(description=_("parcels"), ordering="parcels_n")
    def parcel_count(self, obj: FulfilmentOrder) -> int:
        return getattr(obj, "parcels_n", 0)

    @admin.display(description=_("recipient"))
    def recipient(self, obj: FulfilmentOrder) -> str:
        return obj.order.recipient_name

    @admin.display(description=_("recipient phone"))
    def recipient_phone(self, obj: FulfilmentOrder) -> str:
        return obj.order.recipient_phone

    @admin.display(description=_("recipient phone"))
    def recipient_phone_masked(self, obj: FulfilmentOrder) -> str:
        return mask_phone(obj.order.recipient_phone)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """Staff abroad see the phone masked (core.tenancy.sees_personal_data)."""
        if sees_personal_data(request.user):
            return self.fields
        return tuple("recipient_phone_masked" if f == "recipient_phone" else f for f in self.fields)

    @admin.display(description=_("address"))
    def address(self, obj: FulfilmentOrder) -> str:
        order = obj.order
        region = REGIONS.get(order.region, order.region)
        return f"{order.street}, {order.city}, {region}, {order.postcode}"

    def get_urls(self) -> list[Any]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<int:object_id>/packing-slip/",
                self.admin_site.admin_view(self.packing_slip_view),
                name=f"{prefix}_packing_slip",
            ),
            path(
                "<int:object_id>/labels/",
                self.admin_site.admin_view(self.labels_view),
                name=f"{prefix}_labels",
            ),
            *super().get_urls(),
        ]

    def _own(self, request: HttpRequest, object_id: int) -> FulfilmentOrder:
        """The viewer's own fulfilment order, or 404: another merchant's part
        is not there for them."""
        part = self.get_queryset(request).filter(id=object_id).first()
        if part is None or not self.has_view_permission(request, part):
            raise Http404
        return part

    def packing_slip_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        part = self._own(request, object_id)
        pdf = fulfilment_packing_slips_pdf(
            fulfilment_order_ids=[part.id], mask_phone=not sees_personal_data(request.user)
        )
        return pdf_response(pdf, f"{part.number}-slip.pdf")

    def labels_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        part = self._own(request, object_id)
        ids = list(part.parcels.order_by("id").values_list("id", flat=True))
        if not ids:
            raise Http404
        return pdf_response(parcel_labels_pdf(parcel_ids=ids), f"{part.number}-labels.pdf")

    @admin.action(description=_("Print labels of the selected fulfilment orders"))
    def print_labels(
        self, request: HttpRequest, queryset: QuerySet[FulfilmentOrder]
    ) -> HttpResponse | None:
        ids = list(
            Parcel.objects.filter(fulfilment_order__in=queryset.values("id"))
            .order_by("fulfilment_order_id", "id")
            .values_list("id", flat=True)
        )
        if not ids:
            messages.error(request, _("The selected fulfilment orders have no parcels yet."))
            return None
        return pdf_response(parcel_labels_pdf(parcel_ids=ids), "labels.pdf")

    @admin.action(description=_("Print packing slips of the selected fulfilment orders"))
    def print_packing_slips(
        self, request: HttpRequest, queryset: QuerySet[FulfilmentOrder]
    ) -> HttpResponse:
        ids = list(queryset.order_by("id").values_list("id", flat=True))
        pdf = fulfilment_packing_slips_pdf(
            fulfilment_order_ids=ids, mask_phone=not sees_personal_data(request.user)
        )
        return pdf_response(pdf, "packing-slips.pdf")

    @admin.action(description=_("Export the selected fulfilment orders (CSV)"))
    def export_csv(self, request: HttpRequest, queryset: QuerySet[FulfilmentOrder]) -> HttpResponse:
        ids = list(queryset.order_by("id").values_list("id", flat=True))
        return csv_response(
            fulfilment_orders_csv(fulfilment_order_ids=ids), "fulfilment-orders.csv"
        )
