from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from core.admin_base import ReadOnlyAdmin, ReadOnlyInline
from core.api import csv_response, pdf_response
from core.errors import ApplicationError
from core.tenancy import is_operator_staff
from shipping.linehaul.departures import departure_transition, departures_plan
from shipping.linehaul.manifests import (
    Manifest,
    departure_manifest,
    manifest_cargo_csv,
    manifest_pdf,
    manifest_registry_csv,
)
from shipping.linehaul.manifests_api import manifest_filename
from shipping.linehaul.models import (
    Departure,
    DepartureEvent,
    DepartureStatus,
    Lane,
    LaneRegion,
    Transfer,
    TransferEvent,
    TransferLine,
)
from shipping.linehaul.transfers import transfer_cancel


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
    filter_horizontal = ("couriers",)
    inlines = [LaneRegionInline]
    actions = ["plan"]

    @admin.action(description=_("Plan packed parcels onto departures"))
    def plan(self, request: HttpRequest, queryset: QuerySet[Lane]) -> None:
        for lane in queryset:
            result = departures_plan(lane_id=lane.id)
            messages.info(
                request,
                _("{lane}: {assigned} assigned, {waiting} waiting").format(
                    lane=lane.code, assigned=len(result.assigned), waiting=len(result.unassigned)
                ),
            )


class DepartureEventInline(ReadOnlyInline):
    model = DepartureEvent
    fields = ("from_status", "to_status", "actor", "reason", "created_at")
    readonly_fields = fields


def _move(
    to: str, label: StrOrPromise
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
                messages.success(request, f"{departure}: {DepartureStatus(to).label}")

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
        _move(DepartureStatus.LOADING, _("Start loading")),
        _move(DepartureStatus.CLOSED, _("Close (manifest)")),
        _move(DepartureStatus.DEPARTED, _("Mark departed")),
        _move(DepartureStatus.ARRIVED, _("Mark arrived")),
        _move(DepartureStatus.CANCELLED, _("Cancel (parcels go back to planning)")),
        "download_manifest_pdf",
        "download_registry_csv",
        "download_cargo_csv",
    ]

    def has_operator_permission(self, request: HttpRequest) -> bool:
        """Manifests list every recipient: operator staff only."""
        return is_operator_staff(request.user)

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


class TransferLineInline(ReadOnlyInline):
    model = TransferLine
    fields = ("product", "quantity_sent", "quantity_received", "shortfall", "shortfall_reason")
    readonly_fields = fields


class TransferEventInline(ReadOnlyInline):
    model = TransferEvent
    fields = ("from_status", "to_status", "actor", "reason", "created_at")
    readonly_fields = fields


def transfer_action(
    service: Callable[..., Transfer], label: StrOrPromise, name: str
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Transfer]], None]:
    @admin.action(description=label, permissions=["operator"])
    def action(
        modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Transfer]
    ) -> None:
        for transfer in queryset.order_by("id"):
            try:
                moved = service(transfer_id=transfer.id, actor_id=request.user.pk)
            except ApplicationError as error:
                messages.error(request, f"{transfer}: {error.fields or error.message}")
            else:
                messages.success(request, str(moved))

    action.__name__ = name
    return action


class TransferAdmin(ReadOnlyAdmin):
    """Created and received through the ops API; dispatched or cancelled here
    too. Stock moves only through the services. Registered by commands
    (commands/admin.py) with the dispatch action, which moves stock."""

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
    actions = [transfer_action(transfer_cancel, _("Cancel draft"), "cancel")]

    def has_operator_permission(self, request: HttpRequest) -> bool:
        """Operator staff only: merchants' staff never move stock between warehouses."""
        return is_operator_staff(request.user)
