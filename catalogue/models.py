"""The catalogue: the merchants who sell, what the storefront shows (a listing
in a category, with its images and attribute axes) and the SKUs that are
stocked, ordered and shipped (products, one per variant of a listing)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from imagekit.models import ImageSpecField
from imagekit.processors import ResizeToFill, ResizeToFit
from treebeard.mp_tree import MP_Node, MP_NodeManager

from core.money import MONEY_DIGITS, MONEY_PLACES
from core.validators import (
    country_validator,
    hs_code_validator,
    international_phone_validator,
    supplier_inn_validator,
)

IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "webp"]
IMAGE_MAX_BYTES = 10 * 1024 * 1024
# Thumbnails are made when an image is saved (imagekit's Optimistic strategy),
# so reading their URLs on every catalogue request costs no query and no check
# of the storage. `manage.py generateimages` makes any that are missing.
THUMBNAIL_STRATEGY = "imagekit.cachefiles.strategies.Optimistic"


def language_suffix(language: str) -> str:
    """The column suffix for a request's language: ru, zh or en."""
    code = (language or "ru").lower()
    if code.startswith("zh"):
        return "zh"
    return "en" if code.startswith("en") else "ru"


class Translated(models.Model):
    """Rows with <field>_ru, <field>_zh and <field>_en columns. Russian, the
    buyers' language, stands in for a missing translation."""

    class Meta:
        abstract = True

    def text_in(self, field: str, language: str) -> str:
        value: str = getattr(self, f"{field}_{language_suffix(language)}")
        return value or getattr(self, f"{field}_ru")

    def name_in(self, language: str) -> str:
        return self.text_in("name", language)


class Described(Translated):
    """Names and descriptions in the three languages, as the storefront shows them."""

    name_ru = models.CharField(max_length=200)
    name_zh = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    description_ru = models.TextField(blank=True)
    description_zh = models.TextField(blank=True)
    description_en = models.TextField(blank=True)

    class Meta:
        abstract = True

    def description_in(self, language: str) -> str:
        return self.text_in("description", language)


class Merchant(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    name_zh = models.CharField(max_length=200, blank=True)
    # What a storefront shows; the legal names above stay for documents.
    display_name_ru = models.CharField(max_length=200, blank=True)
    display_name_zh = models.CharField(max_length=200, blank=True)
    display_name_en = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, default="Harbin")
    contact_email = models.EmailField(blank=True)
    # Consumer protection law, art. 26.1: goods bought remotely may be
    # returned within 7 days of hand-over, or 3 months where the seller did
    # not give the return terms in writing on delivery.
    return_terms_in_writing = models.BooleanField(
        default=True,
        db_default=True,
        help_text=_(
            "The return terms are handed to buyers in writing: returns within 7 days of"
            " delivery; otherwise within 3 months."
        ),
    )
    # The supplier's details that 54-FZ receipts carry for goods Amur sells on
    # the merchant's behalf (tags 1171 and 1226).
    phone = models.CharField(max_length=16, blank=True, validators=[international_phone_validator])
    inn = models.CharField(
        max_length=12,
        blank=True,
        validators=[supplier_inn_validator],
        help_text=_("Taxpayer number (INN) for fiscal receipts; empty for a foreign supplier."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["name"]

    def __str__(self) -> str:
        # Staff read the name of their language: Harbin's in Chinese.
        return self.display_name_in(get_language() or "ru")

    def display_name_in(self, language: str) -> str:
        suffix = language_suffix(language)
        chosen: str = getattr(self, f"display_name_{suffix}")
        legal = self.name_zh if suffix == "zh" else ""
        return chosen or legal or self.display_name_en or self.name


class Category(MP_Node, Translated):
    """A node of the storefront's category tree.

    django-treebeard's materialised path: a category's descendants are the
    rows whose path starts with its own (one indexed query, no recursion, the
    same on SQLite and PostgreSQL), and the whole tree comes back in display
    order sorted by path. The library keeps the paths right when staff move a
    branch in the admin."""

    slug = models.SlugField(max_length=80, unique=True)
    name_ru = models.CharField(max_length=200)
    name_zh = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)

    # treebeard has no type information: its manager is opaque to the stubs.
    objects = MP_NodeManager()  # type: ignore[django-manager-missing]

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name_in(get_language() or "ru") or self.slug


class Attribute(Translated):
    """An axis along which a listing's variants differ: size, colour."""

    code = models.SlugField(max_length=40, unique=True)
    name_ru = models.CharField(max_length=100)
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("attribute")
        verbose_name_plural = _("attributes")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name_in(get_language() or "ru") or self.code


class AttributeValue(Translated):
    """The label of one value of an attribute in each language, and its place
    in a size chart (S before M before XL). A variant's value that has no row
    here is shown as written."""

    attribute = models.ForeignKey(Attribute, on_delete=models.CASCADE, related_name="values")
    value = models.CharField(max_length=60)
    name_ru = models.CharField(max_length=100, blank=True)
    name_zh = models.CharField(max_length=100, blank=True)
    name_en = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("attribute value")
        verbose_name_plural = _("attribute values")
        ordering = ["attribute", "position", "value"]
        constraints = [
            models.UniqueConstraint(fields=["attribute", "value"], name="attribute_value_unique")
        ]

    def __str__(self) -> str:
        return self.name_in(get_language() or "ru")

    def name_in(self, language: str) -> str:
        return self.text_in("name", language) or self.value


class Listing(Described):
    """One product card of the storefront: what the buyer reads and sees. Its
    variants are the products (SKUs) that point to it."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="listings")
    slug = models.SlugField(max_length=100, unique=True)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="listings"
    )
    # Attribute codes the variants differ by, in display order. A list on the
    # row rather than a many-to-many, so that the admin can check new variants
    # against the axes of a listing that is being created in the same form.
    axes = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("listing")
        verbose_name_plural = _("listings")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name_in(get_language() or "ru") or self.slug

    def clean(self) -> None:
        super().clean()
        axes = self.axes
        if not isinstance(axes, list) or not all(isinstance(a, str) for a in axes):
            raise ValidationError({"axes": _('List attribute codes, e.g. ["size"].')})
        if len(set(axes)) != len(axes):
            raise ValidationError({"axes": _("Name each attribute once.")})
        known = set(Attribute.objects.filter(code__in=axes).values_list("code", flat=True))
        unknown = [a for a in axes if a not in known]
        if unknown:
            raise ValidationError(
                {"axes": _("Unknown attributes: %(codes)s.") % {"codes": ", ".join(unknown)}}
            )


def variant_attribute_errors(attributes: Any, axes: list[str]) -> list[str]:
    """Why a variant's attribute values do not fit its listing's axes (none: they do)."""
    if not isinstance(attributes, dict):
        return [str(_('Give the attributes as an object, e.g. {"size": "XL"}.'))]
    errors = []
    if set(attributes) != set(axes):
        errors.append(
            str(_("Give exactly the listing's attributes: %(axes)s."))
            % {"axes": ", ".join(axes) or "-"}
        )
    if any(not isinstance(v, str) or not v.strip() or len(v) > 60 for v in attributes.values()):
        errors.append(str(_("Each attribute value is a text of 1 to 60 characters.")))
    return errors


class Product(Described):
    """A SKU: one variant of a listing, with its own price, weight, HS code and
    stock. Orders, stock levels, parcels and transfers point here."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="products")
    listing = models.ForeignKey(
        Listing, on_delete=models.PROTECT, related_name="products", verbose_name=_("listing")
    )
    sku = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9][A-Z0-9-]{1,63}$", _("Use A-Z, 0-9 and dashes."))],
    )
    # Values along the listing's axes, e.g. {"size": "XL", "colour": "black"}.
    attributes = models.JSONField(default=dict, blank=True, verbose_name=_("attributes"))
    hs_code = models.CharField(max_length=10, validators=[hs_code_validator])
    weight_g = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    length_mm = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    width_mm = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    height_mm = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    price_cny = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    origin_country = models.CharField(max_length=2, default="CN", validators=[country_validator])
    is_active = models.BooleanField(default=True)
    # Casefolded SKU, names and attribute values of the variant and its
    # listing, written by catalogue.services: SQLite's LIKE folds only ASCII
    # case, and PostgreSQL indexes this one column for full-text and trigram
    # search.
    search_text = models.TextField(blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(price_cny__gt=0), name="product_price_positive"),
            models.CheckConstraint(condition=Q(weight_g__gt=0), name="product_weight_positive"),
            # Attributes are stored with sorted keys (Product.clean), so equal
            # values are equal text on SQLite as they are equal jsonb on PostgreSQL.
            models.UniqueConstraint(
                fields=["listing", "attributes"],
                name="product_variant_unique_in_listing",
                violation_error_message=_("The listing has a variant with these attributes."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name_in(get_language() or 'ru')}"

    def clean(self) -> None:
        super().clean()
        try:
            # Also a listing being created in the same admin form, not saved yet.
            listing = self.listing
        except Listing.DoesNotExist:
            return
        if self.merchant_id is not None and listing.merchant_id != self.merchant_id:
            raise ValidationError({"listing": _("The listing belongs to another merchant.")})
        errors = variant_attribute_errors(self.attributes, list(listing.axes))
        if errors:
            raise ValidationError({"attributes": errors})
        self.attributes = {k: self.attributes[k].strip() for k in sorted(self.attributes)}

    @property
    def volume_cm3(self) -> Decimal:
        return Decimal(self.length_mm * self.width_mm * self.height_mm) / 1000


def image_size_validator(file: FieldFile) -> None:
    if file.size is not None and file.size > IMAGE_MAX_BYTES:
        raise ValidationError(_("An image may have at most 10 MB."))


def listing_image_path(instance: ListingImage, filename: str) -> str:
    name = PurePosixPath(filename).name
    return f"catalogue/{instance.listing.slug}/{name}"


class ListingImage(Translated):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="images")
    # The variant this picture shows (a colour, say); blank: the whole listing.
    product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="images"
    )
    image = models.ImageField(
        upload_to=listing_image_path,
        width_field="width",
        height_field="height",
        validators=[FileExtensionValidator(IMAGE_EXTENSIONS), image_size_validator],
    )
    # Filled from the file on upload, so reading a row never opens the file.
    width = models.PositiveIntegerField(null=True, editable=False)
    height = models.PositiveIntegerField(null=True, editable=False)
    alt_ru = models.CharField(max_length=200, blank=True)
    alt_zh = models.CharField(max_length=200, blank=True)
    alt_en = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    thumbnail = ImageSpecField(
        source="image",
        processors=[ResizeToFill(320, 320)],
        format="JPEG",
        options={"quality": 85},
        cachefile_strategy=THUMBNAIL_STRATEGY,
    )
    preview = ImageSpecField(
        source="image",
        processors=[ResizeToFit(1024, 1024, upscale=False)],
        format="JPEG",
        options={"quality": 85},
        cachefile_strategy=THUMBNAIL_STRATEGY,
    )

    class Meta:
        verbose_name = _("listing image")
        verbose_name_plural = _("listing images")
        ordering = ["listing", "position", "id"]

    def __str__(self) -> str:
        return self.image.name or ""
