from __future__ import annotations

from django.contrib import admin

from accounts.models import Buyer, Courier, MerchantStaff
from core.admin_base import MerchantScopedAdmin, OperatorOnlyAdmin


@admin.register(MerchantStaff)
class MerchantStaffAdmin(MerchantScopedAdmin):
    list_display = ("user", "merchant")
    list_filter = ("merchant",)
    autocomplete_fields = ["user"]


@admin.register(Buyer)
class BuyerAdmin(admin.ModelAdmin):
    list_display = ("user", "phone", "language", "created_at")
    search_fields = ("user__email", "phone")
    list_select_related = ("user",)


@admin.register(Courier)
class CourierAdmin(OperatorOnlyAdmin):
    """Couriers are the operator's contractors; the lanes each serves are set
    on the lane's page."""

    list_display = ("name", "company", "user")
    search_fields = ("name", "company", "user__email")
