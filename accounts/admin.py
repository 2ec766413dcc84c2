from __future__ import annotations

from django.contrib import admin

from accounts.models import Buyer, Courier, MerchantStaff, PersonalDataConsent, StaffPreference
from core.admin_base import MerchantScopedAdmin, OperatorOnlyAdmin, OperatorOnlyReadOnlyAdmin


@admin.register(MerchantStaff)
class MerchantStaffAdmin(MerchantScopedAdmin):
    list_display = ("user", "merchant", "country")
    list_filter = ("merchant", "country")
    autocomplete_fields = ["user"]


@admin.register(Buyer)
class BuyerAdmin(OperatorOnlyAdmin):
    """Buyers' contacts are personal data: operator staff only (merchants see
    what an order needs on the order)."""

    list_display = ("user", "phone", "language", "created_at")
    search_fields = ("user__email", "phone")
    list_select_related = ("user",)


@admin.register(PersonalDataConsent)
class PersonalDataConsentAdmin(OperatorOnlyReadOnlyAdmin):
    list_display = ("user", "policy_version", "given_at", "withdrawn_at")
    list_filter = ("policy_version",)
    search_fields = ("user__email",)
    list_select_related = ("user",)


@admin.register(Courier)
class CourierAdmin(OperatorOnlyAdmin):
    """Couriers are the operator's contractors; the lanes each serves are set
    on the lane's page."""

    list_display = ("name", "company", "user")
    search_fields = ("name", "company", "user__email")


@admin.register(StaffPreference)
class StaffPreferenceAdmin(OperatorOnlyAdmin):
    list_display = ("user", "time_zone")
    list_filter = ("time_zone",)
    search_fields = ("user__email", "user__username")
    autocomplete_fields = ["user"]
