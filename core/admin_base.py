"""Admin base classes every app's back office is built from: read-only
records, rows scoped to the viewer's merchant, and operator-only pages."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.regions import region_name
from core.replicas import replica_reads
from core.tenancy import is_operator_staff, merchant_id_for_user


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only records: audit events, ledgers, attempts."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EstimatedCountPaginator(Paginator):
    """Pages of a table too large to count: on PostgreSQL, above
    EXACT_BELOW rows the count is the planner's estimate (EXPLAIN), which
    costs the same at a thousand rows as at a billion; below it, and on
    other databases, the exact count."""

    EXACT_BELOW = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return super().count
        sql, params = queryset.order_by().query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            (plan,) = cursor.fetchone()
        if isinstance(plan, str):
            plan = json.loads(plan)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        if estimate < self.EXACT_BELOW:
            return super().count
        return estimate


class LargeTableAdmin(admin.ModelAdmin):
    """For tables of billions of rows (tracking, the outbox): the list is
    never counted in full, neither for the paginator nor for "N total"."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        # A list a moment behind is fine; actions (POST) run on the primary.
        if request.method != "GET":
            return super().changelist_view(request, extra_context)
        with replica_reads():
            response = super().changelist_view(request, extra_context)
            # The list is read as the template renders: render it here.
            render = getattr(response, "render", None)
            return render() if render is not None else response


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
