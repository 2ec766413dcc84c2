"""Admin base classes every app's back office is built from: read-only
records, rows scoped to the viewer's merchant, and operator-only pages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.regions import region_name
from core.tenancy import is_operator_staff, merchant_id_for_user


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only records: audit events, ledgers, attempts."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MerchantScopedAdmin(admin.ModelAdmin):
    """Shows merchant staff only their merchant's rows; operator staff (no
    merchant) see everything."""

    # Lookup from the model to its merchant id, e.g. "product__merchant".
    merchant_lookup: str = "merchant"
    # Foreign keys whose choices must be limited too: field name -> lookup to merchant.
    scoped_foreign_keys: dict[str, str] = {}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        merchant_id = merchant_id_for_user(request.user)
        if merchant_id is None:
            return qs
        return qs.filter(**{self.merchant_lookup: merchant_id}).distinct()

    def get_list_filter(self, request: HttpRequest) -> Any:
        """Merchant staff see one merchant: a filter by merchant would only
        list the other merchants' names."""
        filters = super().get_list_filter(request)
        if merchant_id_for_user(request.user) is None:
            return filters
        return [f for f in filters if not (isinstance(f, str) and f.split("__")[0] == "merchant")]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        merchant_id = merchant_id_for_user(request.user)
        if merchant_id is not None:
            if db_field.name == "merchant":
                kwargs["queryset"] = db_field.related_model.objects.filter(id=merchant_id)
            elif db_field.name in self.scoped_foreign_keys:
                lookup = self.scoped_foreign_keys[db_field.name]
                kwargs["queryset"] = db_field.related_model.objects.filter(**{lookup: merchant_id})
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class OperatorOnlyAdmin(admin.ModelAdmin):
    """Pages merchants' staff never see, whatever permissions they are given."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator_staff(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator_staff(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_operator_staff(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator_staff(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator_staff(request.user) and super().has_delete_permission(request, obj)


class OperatorOnlyReadOnlyAdmin(ReadOnlyAdmin):
    """The platform's books and queues: operator staff only, read-only."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if merchant_id_for_user(request.user) is not None:
            return False
        return super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        if merchant_id_for_user(request.user) is not None:
            return False
        return super().has_module_permission(request)


class RegionFilter(admin.SimpleListFilter):
    """Regions as one drop-down of those the rows have, not 83 links."""

    title = _("region")
    parameter_name = "region"
    template = "admin/amur/select_filter.html"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        codes = (
            model_admin.get_queryset(request).order_by().values_list("region", flat=True).distinct()
        )
        return sorted(((code, region_name(code)) for code in codes), key=lambda c: c[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(region=value) if value else queryset


def _works_for_a_merchant(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and merchant_id_for_user(user) is not None)


class MerchantReadableAdmin(MerchantScopedAdmin):
    """Pages every merchant's staff may read (their own rows, as
    MerchantScopedAdmin scopes them) whatever group they are in: their
    fulfilment orders, their settlement statements. Operator staff need the
    usual view permission."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _works_for_a_merchant(request) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _works_for_a_merchant(request) or super().has_view_permission(request, obj)


class MerchantReadableInline(ReadOnlyInline):
    """A read-only inline of a MerchantReadableAdmin page."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _works_for_a_merchant(request) or super().has_view_permission(request, obj)
