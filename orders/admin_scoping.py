"""Admin base class that shows merchant staff only their merchant's rows.

Operator staff (no MerchantStaff row) see everything."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin_base import ReadOnlyAdmin, ReadOnlyInline
from orders.selectors import merchant_id_for_user

__all__ = [
    "MerchantScopedAdmin",
    "OperatorOnlyAdmin",
    "ReadOnlyAdmin",
    "ReadOnlyInline",
    "is_operator_staff",
]


class MerchantScopedAdmin(admin.ModelAdmin):
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

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        merchant_id = merchant_id_for_user(request.user)
        if merchant_id is not None:
            if db_field.name == "merchant":
                kwargs["queryset"] = db_field.related_model.objects.filter(id=merchant_id)
            elif db_field.name in self.scoped_foreign_keys:
                lookup = self.scoped_foreign_keys[db_field.name]
                kwargs["queryset"] = db_field.related_model.objects.filter(**{lookup: merchant_id})
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def is_operator_staff(request: HttpRequest) -> bool:
    """Django staff who do not work for a merchant."""
    user = request.user
    return bool(user.is_active and user.is_staff and merchant_id_for_user(user) is None)


class OperatorOnlyAdmin(admin.ModelAdmin):
    """Pages merchants' staff never see, whatever permissions they are given."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator_staff(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator_staff(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_operator_staff(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator_staff(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator_staff(request) and super().has_delete_permission(request, obj)
