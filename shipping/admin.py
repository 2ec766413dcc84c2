from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from core.api import csv_response, pdf_response
from core.errors import ApplicationError
from orders.admin import OrderAdmin
from orders.admin_scoping import (
    MerchantScopedAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    is_operator_staff,
)
from orders.models import Order
from payments.admin import OperatorOnly
from shipping.cod import cod_reconcile, cod_remittance_record
from shipping.cod_models import CashCollection, CodDifference, CodReconciliation, CourierRemittance
from shipping.customs import parcel_customs_release, parcel_customs_return
from shipping.documents import packing_slip_pdf, parcel_labels_pdf, pick_list_pdf
from shipping.manifests import (
    Manifest,
    departure_manifest,
    manifest_cargo_csv,
    manifest_pdf,
    manifest_registry_csv,
)
from shipping.manifests_api import manifest_filename
from shipping.models import (
    Courier,
    Departure,
    DepartureEvent,
    DepartureStatus,
    DutyRule,
    Lane,
    LaneRegion,
    Parcel,
    ParcelLine,
    PendingEvent,
    TrackingEvent,
    TrackingSeries,
    Transfer,
    TransferEvent,
    TransferLine,
)
from shipping.packing import order_pack
from shipping.services import departure_transition, departures_plan
from shipping.transfers import transfer_cancel, transfer_dispatch
from warehouses.admin import WarehouseAdmin
from warehouses.models import Warehouse


class LaneRegionInline(admin.TabularInline):
    model = LaneRegion
    extra = 0


@admin.register(Lane)
class LaneAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "origin",
        "destination_hub",
        "mode",
        "transit_days",
        "base_fee_cny",
        "per_100g_cny",
        "is_active",
    )
    list_filter = ("mode", "is_active")
    inlines = [LaneRegionInline]
    actions = ["plan"]

    @admin.action(description="Plan packed parcels onto departures")
    def plan(self, request: HttpRequest, queryset: QuerySet[Lane]) -> None:
        for lane in queryset:
            result = departures_plan(lane_id=lane.id)
            messages.info(
                request,
                f"{lane.code}: {len(result.assigned)} assigned, {len(result.unassigned)} waiting",
            )


@admin.register(DutyRule)
class DutyRuleAdmin(admin.ModelAdmin):
    list_display = (
        "valid_from",
        "value_threshold_eur",
        "weight_threshold_kg",
        "rate_on_excess_value",
        "min_eur_per_excess_kg",
        "note",
    )


class DepartureEventInline(ReadOnlyInline):
    model = DepartureEvent
    fields = ("from_status", "to_status", "actor", "reason", "created_at")
    readonly_fields = fields


def _move(
    to: str, label: str
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Departure]], None]:
    @admin.action(description=label)
    def action(
        modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Departure]
    ) -> None:
        for departure in queryset.order_by("id"):
            try:
                departure_transition(departure_id=departure.id, to=to, actor_id=request.user.pk)
            except ApplicationError as error:
                messages.error(request, f"{departure}: {error.fields or error.message}")
            else:
                messages.success(request, f"{departure}: {to}")

    action.__name__ = f"move_to_{to}"
    return action


@admin.register(Departure)
class DepartureAdmin(admin.ModelAdmin):
    """Status changes only through the actions, which add tracking events."""

    list_display = (
        "number",
        "lane",
        "scheduled_at",
        "cutoff_at",
        "capacity_kg",
        "capacity_m3",
        "capacity_pieces",
        "status",
    )
    list_filter = ("lane", "status")
    date_hierarchy = "scheduled_at"
    readonly_fields = ("status",)
    inlines = [DepartureEventInline]
    actions = [
        _move(DepartureStatus.LOADING, "Start loading"),
        _move(DepartureStatus.CLOSED, "Close (manifest)"),
        _move(DepartureStatus.DEPARTED, "Mark departed"),
        _move(DepartureStatus.ARRIVED, "Mark arrived"),
        _move(DepartureStatus.CANCELLED, "Cancel (parcels go back to planning)"),
        "download_manifest_pdf",
        "download_registry_csv",
        "download_cargo_csv",
    ]

    def has_operator_permission(self, request: HttpRequest) -> bool:
        """Manifests list every recipient: operator staff only."""
        return is_operator_staff(request)

    def _manifest(self, request: HttpRequest, queryset: QuerySet[Departure]) -> Manifest | None:
        departures = list(queryset.order_by("id")[:2])
        if len(departures) != 1:
            messages.error(request, _("Select exactly one departure."))
            return None
        try:
            return departure_manifest(departure_id=departures[0].id)
        except ApplicationError as error:
            detail = f" {error.fields}" if error.fields else ""
            messages.error(request, f"{departures[0]}: {error.message}{detail}")
            return None

    @admin.action(description=_("Download manifest (PDF)"), permissions=["operator"])
    def download_manifest_pdf(
        self, request: HttpRequest, queryset: QuerySet[Departure]
    ) -> HttpResponse | None:
        manifest = self._manifest(request, queryset)
        if manifest is None:
            return None
        return pdf_response(manifest_pdf(manifest=manifest), manifest_filename(manifest, ".pdf"))

    @admin.action(
        description=_("Download manifest (CSV): customs registry"), permissions=["operator"]
    )
    def download_registry_csv(
        self, request: HttpRequest, queryset: QuerySet[Departure]
    ) -> HttpResponse | None:
        manifest = self._manifest(request, queryset)
        if manifest is None:
            return None
        return csv_response(
            manifest_registry_csv(manifest=manifest), manifest_filename(manifest, "-registry.csv")
        )

    @admin.action(description=_("Download manifest (CSV): cargo"), permissions=["operator"])
    def download_cargo_csv(
        self, request: HttpRequest, queryset: QuerySet[Departure]
    ) -> HttpResponse | None:
        manifest = self._manifest(request, queryset)
        if manifest is None:
            return None
        return csv_response(
            manifest_cargo_csv(manifest=manifest), manifest_filename(manifest, "-cargo.csv")
        )


class ParcelLineInline(ReadOnlyInline):
    model = ParcelLine
    fields = ("line", "quantity")
    readonly_fields = fields


class TrackingEventInline(ReadOnlyInline):
    model = TrackingEvent
    fields = ("occurred_at", "event", "status", "emsevt", "location", "source", "courier")
    readonly_fields = fields


@admin.register(Parcel)
class ParcelAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "order__lines__merchant"
    actions = ["print_labels", "customs_release", "customs_return"]

    @admin.action(description=_("Print labels for the selected parcels"))
    def print_labels(self, request: HttpRequest, queryset: QuerySet[Parcel]) -> HttpResponse:
        ids = list(queryset.order_by("id").values_list("id", flat=True))
        return pdf_response(parcel_labels_pdf(parcel_ids=ids), "labels.pdf")

    def has_operator_permission(self, request: HttpRequest) -> bool:
        """Customs holds are resolved by operator staff, never by a merchant."""
        return is_operator_staff(request)

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
        "order",
        "status",
        "warehouse",
        "lane",
        "departure",
        "weight_g",
    )
    list_filter = ("status", "lane", "warehouse")
    search_fields = ("tracking_number", "order__number")
    list_select_related = ("order", "warehouse", "lane", "departure")
    inlines = [ParcelLineInline, TrackingEventInline]


@admin.register(Courier)
class CourierAdmin(admin.ModelAdmin):
    list_display = ("name", "company", "user")
    filter_horizontal = ("lanes",)


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "parcel__order__lines__merchant"
    list_display = ("parcel", "event", "status", "emsevt", "occurred_at", "source", "location")
    list_filter = ("event", "source")
    search_fields = ("parcel__tracking_number", "scan_id")


@admin.register(PendingEvent)
class PendingEventAdmin(OperatorOnly):
    """Courier scans stored but not yet applied to their parcels. A few for a
    second or two is normal; a growing or ageing list means no Celery worker
    is applying them."""

    list_display = ("parcel", "event_name", "occurred_at", "recorded_at")
    list_select_related = ("parcel", "event")
    ordering = ("event_id",)
    search_fields = ("parcel__tracking_number", "event__scan_id")

    @admin.display(description=_("event"), ordering="event__event")
    def event_name(self, obj: PendingEvent) -> str:
        return obj.event.event

    @admin.display(description=_("occurred at"), ordering="event__occurred_at")
    def occurred_at(self, obj: PendingEvent) -> Any:
        return obj.event.occurred_at

    @admin.display(description=_("recorded at"), ordering="event__recorded_at")
    def recorded_at(self, obj: PendingEvent) -> Any:
        return obj.event.recorded_at


@admin.register(TrackingSeries)
class TrackingSeriesAdmin(admin.ModelAdmin):
    list_display = ("prefix", "country", "next_serial")


class TransferLineInline(ReadOnlyInline):
    model = TransferLine
    fields = ("product", "quantity_sent", "quantity_received", "shortfall", "shortfall_reason")
    readonly_fields = fields


class TransferEventInline(ReadOnlyInline):
    model = TransferEvent
    fields = ("from_status", "to_status", "actor", "reason", "created_at")
    readonly_fields = fields


def _transfer_action(
    service: Callable[..., Transfer], label: str, name: str
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Transfer]], None]:
    @admin.action(description=label, permissions=["operator"])
    def action(
        modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Transfer]
    ) -> None:
        for transfer in queryset.order_by("id"):
            try:
                service(transfer_id=transfer.id, actor_id=request.user.pk)
            except ApplicationError as error:
                messages.error(request, f"{transfer}: {error.fields or error.message}")
            else:
                messages.success(request, f"T-{transfer.id}: {name}")

    action.__name__ = name
    return action


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    """Created and received through the ops API; dispatched or cancelled here
    too. Stock moves only through the services."""

    list_display = (
        "id",
        "origin",
        "destination",
        "departure",
        "status",
        "created_at",
        "dispatched_at",
        "received_at",
    )
    list_filter = ("status", "origin", "destination")
    list_select_related = ("origin", "destination", "departure")
    search_fields = ("lines__product__sku",)
    inlines = [TransferLineInline, TransferEventInline]
    actions = [
        _transfer_action(transfer_dispatch, "Dispatch (stock leaves the origin)", "dispatch"),
        _transfer_action(transfer_cancel, "Cancel draft", "cancel"),
    ]

    def has_operator_permission(self, request: HttpRequest) -> bool:
        """Operator staff only: merchants' staff never move stock between warehouses."""
        return is_operator_staff(request)


# Fulfilment actions on the lower apps' admin pages live here, where the
# shipping services they call are in reach.


admin.site.unregister(Order)


@admin.register(Order)
class FulfilmentOrderAdmin(OrderAdmin):
    actions = ["pack", "print_packing_slip"]

    @admin.action(description=_("Pack the selected allocated orders"), permissions=["change"])
    def pack(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset.order_by("id"):
            try:
                parcels = order_pack(order_id=order.id, actor_id=request.user.pk)
            except ApplicationError as error:
                messages.error(request, f"{order.number}: {error.message}")
            else:
                numbers = ", ".join(p.tracking_number for p in parcels)
                messages.success(request, f"{order.number}: {numbers}")

    @admin.action(description=_("Print the packing slip"))
    def print_packing_slip(
        self, request: HttpRequest, queryset: QuerySet[Order]
    ) -> HttpResponse | None:
        orders = list(queryset.order_by("id")[:2])
        if len(orders) != 1:
            messages.error(request, _("Select exactly one order."))
            return None
        return pdf_response(packing_slip_pdf(order_id=orders[0].id), f"{orders[0].number}.pdf")


admin.site.unregister(Warehouse)


@admin.register(Warehouse)
class FulfilmentWarehouseAdmin(WarehouseAdmin):
    actions = ["print_pick_list"]

    @admin.action(description=_("Print the pick list"))
    def print_pick_list(
        self, request: HttpRequest, queryset: QuerySet[Warehouse]
    ) -> HttpResponse | None:
        warehouses = list(queryset.order_by("id")[:2])
        if len(warehouses) != 1:
            messages.error(request, _("Select exactly one warehouse."))
            return None
        warehouse = warehouses[0]
        return pdf_response(pick_list_pdf(warehouse_id=warehouse.id), f"pick-{warehouse.code}.pdf")


@admin.register(CashCollection)
class CashCollectionAdmin(OperatorOnly):
    list_display = (
        "scan_id",
        "courier",
        "order",
        "amount",
        "currency",
        "due",
        "outcome",
        "collected_at",
    )
    list_filter = ("outcome", "courier")
    search_fields = ("scan_id", "order__number", "parcel__tracking_number")
    list_select_related = ("courier", "order")
    date_hierarchy = "collected_at"


class RemittanceForm(forms.ModelForm):
    class Meta:
        model = CourierRemittance
        fields = ("courier", "amount", "currency", "reference", "day", "received_at")


@admin.register(CourierRemittance)
class CourierRemittanceAdmin(OperatorOnly):
    """Operator staff record the cash a courier hands over; the record is
    then fixed (a correction is a new remittance)."""

    form = RemittanceForm
    list_display = ("courier", "day", "amount", "currency", "reference", "received_at")
    list_filter = ("courier", "day")
    search_fields = ("reference",)
    list_select_related = ("courier",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator_staff(request) and request.user.has_perm(
            "shipping.add_courierremittance"
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        recorded = cod_remittance_record(
            courier_id=obj.courier_id,
            amount=obj.amount,
            currency=obj.currency,
            reference=obj.reference,
            received_at=obj.received_at,
            day=obj.day,
            actor_id=request.user.pk,
        )
        obj.pk = recorded.pk
        obj.ledger_transaction_id = recorded.ledger_transaction_id


@admin.register(CodReconciliation)
class CodReconciliationAdmin(OperatorOnly):
    list_display = (
        "day",
        "courier",
        "currency",
        "expected",
        "collected",
        "remitted",
        "collection_difference",
        "remittance_difference",
        "flagged",
        "reason_list",
    )
    list_filter = ("flagged", "day", "courier")
    list_select_related = ("courier",)
    date_hierarchy = "day"
    actions = ["recompute"]

    @admin.display(description=_("Differences"))
    def reason_list(self, obj: CodReconciliation) -> str:
        return ", ".join(str(CodDifference(code).label) for code in obj.reasons)

    @admin.action(description=_("Reconcile the selected days again"), permissions=["view"])
    def recompute(self, request: HttpRequest, queryset: QuerySet[CodReconciliation]) -> None:
        days = sorted(set(queryset.values_list("day", flat=True)))
        flagged = sum(row.flagged for day in days for row in cod_reconcile(day=day))
        messages.info(
            request,
            _("%(days)d day(s) reconciled; %(flagged)d row(s) flagged.")
            % {"days": len(days), "flagged": flagged},
        )
