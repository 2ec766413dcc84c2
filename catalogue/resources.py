"""Products as CSV (or any format tablib reads) for the admin's export and
import (django-import-export). Rows are matched by SKU; a merchant's staff
import into their own merchant only and cannot touch another's SKUs."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from import_export import fields, resources
from import_export.forms import SelectableFieldsExportForm
from import_export.widgets import ForeignKeyWidget

from catalogue.models import Listing, Merchant, Product
from catalogue.services import listing_search_refresh
from core.tenancy import merchant_id_for_user

COLUMNS = (
    "sku",
    "merchant",
    "listing",
    "name_ru",
    "name_zh",
    "name_en",
    "price_cny",
    "hs_code",
    "origin_country",
    "weight_g",
    "length_mm",
    "width_mm",
    "height_mm",
    "is_active",
)


class ProductResource(resources.ModelResource):
    merchant = fields.Field(
        attribute="merchant", column_name="merchant", widget=ForeignKeyWidget(Merchant, "code")
    )
    listing = fields.Field(
        attribute="listing", column_name="listing", widget=ForeignKeyWidget(Listing, "slug")
    )

    class Meta:
        model = Product
        fields = COLUMNS
        export_order = COLUMNS
        import_id_fields = ("sku",)
        skip_unchanged = True
        report_skipped = False
        use_transactions = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        request = kwargs.get("request")
        self.merchant_id = merchant_id_for_user(request.user) if request is not None else None

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        """Merchant staff: every row is their merchant's, whatever it says."""
        if self.merchant_id is not None:
            row["merchant"] = Merchant.objects.get(id=self.merchant_id).code

    def get_instance(self, instance_loader: Any, row: Any) -> Product | None:
        instance: Product | None = super().get_instance(instance_loader, row)
        if (
            instance is not None
            and self.merchant_id is not None
            and instance.merchant_id != self.merchant_id
        ):
            raise ValidationError(
                _("SKU %(sku)s belongs to another merchant.") % {"sku": row["sku"]}
            )
        return instance

    def before_save_instance(self, instance: Product, row: Any, **kwargs: Any) -> None:
        # The model's own checks: the listing is the merchant's, the axes fit.
        instance.full_clean(exclude=["search_text"])

    def after_save_instance(self, instance: Product, row: Any, **kwargs: Any) -> None:
        if not kwargs.get("dry_run"):
            listing_search_refresh(listing_id=instance.listing_id)


class ProductExportForm(SelectableFieldsExportForm):
    """The export page's check boxes named as the admin names the columns
    (the library titles the raw field names, in English)."""

    def _get_field_label(self, resource: Any, field_name: str) -> str:
        try:
            field = Product._meta.get_field(field_name)
        except FieldDoesNotExist:
            return super()._get_field_label(resource, field_name)
        return str(capfirst(getattr(field, "verbose_name", field_name)))


# django-import-export's Russian and Chinese catalogues lack this one.
SELECT_ALL = gettext_noop("Select all")
