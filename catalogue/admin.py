from __future__ import annotations

from django.contrib import admin

from catalogue.models import Merchant, Product
from core.admin_base import MerchantScopedAdmin


@admin.register(Merchant)
class MerchantAdmin(MerchantScopedAdmin):
    merchant_lookup = "id"
    list_display = ("code", "name", "name_zh", "city", "created_at")
    search_fields = ("code", "name", "name_zh")


@admin.register(Product)
class ProductAdmin(MerchantScopedAdmin):
    list_display = ("sku", "name_en", "name_zh", "merchant", "price_cny", "weight_g", "is_active")
    list_filter = ("is_active", "merchant", "origin_country")
    search_fields = ("sku", "name_ru", "name_zh", "name_en", "hs_code")
    list_select_related = ("merchant",)
