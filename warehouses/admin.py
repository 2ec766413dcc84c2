from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.admin_base import MerchantScopedAdmin, ReadOnlyAdmin
from core.errors import ValidationFailed
from core.tenancy import merchant_id_for_user
from warehouses.csv_io import (
    EXPORT_COLUMNS,
    MAX_BYTES,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    stock_csv_read,
    stock_csv_write,
)
from warehouses.models import Reservation, StockLevel, StockMovement, Warehouse
from warehouses.reasons import movement_reason_label
from warehouses.selectors import stock_levels_for_export
from warehouses.services import StockImportRejected, stock_import_rows


class StockImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "city", "country", "is_active")
    list_filter = ("kind", "country")
    actions = ["print_pick_list"]

    @admin.action(description=_("Print the pick list"))
    def print_pick_list(
        self, request: HttpRequest, queryset: QuerySet[Warehouse]
    ) -> HttpResponse | None:
        """Opens the pick list PDF, drawn by shipping's fulfilment documents
        (an app above this one), by its address."""
        warehouses = list(queryset.order_by("id")[:2])
        if len(warehouses) != 1:
            messages.error(request, _("Select exactly one warehouse."))
            return None
        return HttpResponseRedirect(
            reverse("ops-pick-list-pdf", kwargs={"code": warehouses[0].code})
        )


@admin.register(StockLevel)
class StockLevelAdmin(MerchantScopedAdmin):
    """On hand and reserved change only through movements (services)."""

    merchant_lookup = "product__merchant"
    list_display = (
        "product",
        "warehouse",
        "on_hand",
        "reserved",
        "available_units",
        "location",
        "low_stock_threshold",
    )
    list_filter = ("warehouse",)
    search_fields = ("product__sku", "product__name_en", "product__name_zh")
    list_select_related = ("product", "warehouse")
    readonly_fields = ("warehouse", "product", "on_hand", "reserved")
    actions = ["export_csv"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("available"))
    def available_units(self, obj: StockLevel) -> int:
        return obj.available

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="{}_{}_import".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "stock_import_allowed": self.has_change_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def _csv_response(self, levels: QuerySet[StockLevel]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="stock-{stamp}.csv"'
        stock_csv_write(levels=stock_levels_for_export(levels=levels), out=response)
        return response

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """Every stock level the user may see (merchant staff: their own)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return self._csv_response(self.get_queryset(request))

    @admin.action(description=_("Export selected stock levels to CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[StockLevel]) -> HttpResponse:
        return self._csv_response(queryset)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = StockImportForm(request.POST or None, request.FILES or None)
        row_errors: list[tuple[int, list[str]]] = []
        if request.method == "POST" and form.is_valid():
            try:
                rows = stock_csv_read(data=form.cleaned_data["file"].read(MAX_BYTES + 1))
                result = stock_import_rows(
                    rows=rows,
                    actor_id=request.user.pk,
                    merchant_id=merchant_id_for_user(request.user),
                )
            except StockImportRejected as exc:
                row_errors = exc.row_errors
                form.add_error(None, exc.message)
            except ValidationFailed as exc:
                form.add_error("file", exc.message)
            else:
                self.message_user(
                    request,
                    _(
                        "Imported {rows} rows: {created} new stock levels, {updated} updated, "
                        "{movements} movements."
                    ).format(
                        rows=result.rows,
                        created=result.levels_created,
                        updated=result.levels_updated,
                        movements=result.movements,
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import stock levels from CSV"),
            "opts": self.opts,
            "form": form,
            "row_errors": row_errors,
            "required_columns": ",".join(REQUIRED_COLUMNS),
            "optional_columns": ",".join(OPTIONAL_COLUMNS),
            "export_columns": ",".join(EXPORT_COLUMNS),
        }
        return TemplateResponse(request, "admin/warehouses/stocklevel/import.html", context)


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "stock__product__merchant"
    # When and why first: the stock's name is long, and what the window
    # cannot hold scrolls in its box.
    list_display = (
        "created_at",
        "stock",
        "kind",
        "on_hand_delta",
        "reserved_delta",
        "reason_shown",
        "order",
        "actor",
    )
    list_filter = ("kind",)
    search_fields = ("stock__product__sku", "order__number", "reason")
    # The reason as the viewer reads it; the stored English stays searchable.
    readonly_fields = ("reason_shown",)

    @admin.display(description=_("reason"))
    def reason_shown(self, movement: StockMovement) -> str:
        return movement_reason_label(movement.reason)


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "stock__product__merchant"
    list_display = ("order", "line", "stock", "quantity", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("order__number",)
