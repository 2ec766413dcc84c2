from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from catalogue.models import (
    Attribute,
    AttributeValue,
    Category,
    Listing,
    ListingImage,
    Merchant,
    Product,
)
from catalogue.resources import ProductExportForm, ProductResource
from catalogue.services import listing_search_refresh
from core.admin_base import MerchantScopedAdmin, OperatorOnlyAdmin


@admin.register(Merchant)
class MerchantAdmin(MerchantScopedAdmin):
    merchant_lookup = "id"
    list_display = ("code", "name", "display_name_ru", "name_zh", "city", "created_at")
    search_fields = ("code", "name", "name_zh", "display_name_ru", "display_name_en")


@admin.register(Category)
class CategoryAdmin(OperatorOnlyAdmin, TreeAdmin):
    """The storefront's tree: operator staff place and move categories (a
    move takes the whole branch along)."""

    form = movenodeform_factory(Category)
    list_display = ("name_ru", "name_zh", "name_en", "slug")
    search_fields = ("slug", "name_ru", "name_zh", "name_en")
    prepopulated_fields = {"slug": ("name_en",)}


class AttributeValueInline(admin.TabularInline):
    model = AttributeValue
    extra = 0


@admin.register(Attribute)
class AttributeAdmin(OperatorOnlyAdmin):
    list_display = ("code", "name_ru", "name_zh", "name_en", "position")
    inlines = [AttributeValueInline]


class ListingForm(forms.ModelForm):
    """Attribute axes as check boxes, kept in the attributes' own order."""

    axes = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label=_("Variants differ by")
    )

    class Meta:
        model = Listing
        fields = [
            "merchant",
            "slug",
            "category",
            "is_active",
            "name_ru",
            "name_zh",
            "name_en",
            "description_ru",
            "description_zh",
            "description_en",
            "axes",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        language = get_language() or "ru"
        choices = [(a.code, str(a.name_in(language))) for a in Attribute.objects.all()]
        self.fields["axes"].choices = choices  # type: ignore[attr-defined]
        self._order = [code for code, _label in choices]

    def clean_axes(self) -> list[str]:
        chosen = set(self.cleaned_data["axes"])
        return [code for code in self._order if code in chosen]


class VariantFormSet(BaseInlineFormSet):
    def add_fields(self, form: forms.ModelForm, index: int | None) -> None:
        super().add_fields(form, index)
        # A variant is sold by its listing's merchant; the field is not on the form.
        form.instance.merchant_id = self.instance.merchant_id


class VariantInline(admin.StackedInline):
    model = Product
    formset = VariantFormSet
    extra = 0
    fields = (
        ("sku", "is_active"),
        "attributes",
        ("price_cny", "hs_code", "origin_country"),
        ("weight_g", "length_mm", "width_mm", "height_mm"),
        ("name_ru", "name_zh", "name_en"),
    )
    verbose_name = _("variant")
    verbose_name_plural = _("variants (SKUs)")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Orders and stock point to SKUs: retire one with is_active instead.
        return False


class ListingImageInline(admin.TabularInline):
    model = ListingImage
    extra = 1
    fields = ("preview_tag", "image", "product", "position", "alt_ru", "alt_zh", "alt_en")
    readonly_fields = ("preview_tag",)

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        self._listing = obj
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "product":
            listing = getattr(self, "_listing", None)
            kwargs["queryset"] = (
                Product.objects.filter(listing=listing) if listing else Product.objects.none()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("thumbnail"))
    def preview_tag(self, obj: ListingImage) -> SafeString | str:
        if not obj.pk or not obj.image:
            return "-"
        return format_html('<img src="{}" width="80" height="80" alt="">', obj.thumbnail.url)


@admin.register(Listing)
class ListingAdmin(MerchantScopedAdmin):
    """A product card with its images and its variants (SKUs)."""

    form = ListingForm
    list_display = ("slug", "name_ru", "name_en", "merchant", "category", "is_active")
    list_filter = ("is_active", "merchant", "category")
    search_fields = ("slug", "name_ru", "name_zh", "name_en", "products__sku")
    list_select_related = ("merchant", "category")
    prepopulated_fields = {"slug": ("name_en",)}
    inlines = [ListingImageInline, VariantInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        listing_search_refresh(listing_id=form.instance.id)


@admin.register(Product)
class ProductAdmin(ImportExportMixin, MerchantScopedAdmin):
    """Products with CSV export and import (catalogue/resources.py)."""

    resource_classes = [ProductResource]
    export_form_class = ProductExportForm

    def get_resource_kwargs(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        # The resource scopes an import to the importing merchant.
        return {"request": request}

    list_display = ("sku", "name_en", "name_zh", "listing", "merchant", "price_cny", "is_active")
    list_filter = ("is_active", "merchant", "origin_country")
    search_fields = ("sku", "name_ru", "name_zh", "name_en", "hs_code")
    list_select_related = ("merchant", "listing")
    scoped_foreign_keys = {"listing": "merchant"}

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        listing_search_refresh(listing_id=obj.listing_id)
