from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from core.admin_base import MerchantScopedAdmin, ReadOnlyAdmin, ReadOnlyInline
from core.api import pdf_response
from core.errors import ApplicationError
from core.tenancy import is_operator_staff
from shipping.customs.holds import parcel_customs_release, parcel_customs_return
from shipping.fulfilment.documents import parcel_labels_pdf
from shipping.fulfilment.models import Parcel, ParcelLine, TrackingSeries
from shipping.tracking.models import TrackingEvent


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


@admin.register(TrackingSeries)
class TrackingSeriesAdmin(admin.ModelAdmin):
    list_display = ("prefix", "country", "next_serial")
