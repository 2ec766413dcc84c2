from django.db import migrations

from catalogue.search import search_text_of


def listings_for_products(apps, schema_editor):
    """Each product becomes the only variant of a listing made of its own
    names; its search text is written, and merchants' storefront names start
    as their legal ones."""
    Listing = apps.get_model("catalogue", "Listing")
    Product = apps.get_model("catalogue", "Product")
    Merchant = apps.get_model("catalogue", "Merchant")
    for merchant in Merchant.objects.filter(display_name_en=""):
        merchant.display_name_en = merchant.name
        merchant.display_name_zh = merchant.display_name_zh or merchant.name_zh
        merchant.save(update_fields=["display_name_en", "display_name_zh"])
    for product in Product.objects.filter(listing__isnull=True).order_by("id").iterator():
        listing = Listing.objects.create(
            merchant_id=product.merchant_id,
            slug=product.sku.lower(),
            name_ru=product.name_ru,
            name_zh=product.name_zh,
            name_en=product.name_en,
            description_ru=product.description_ru,
            description_zh=product.description_zh,
            description_en=product.description_en,
            axes=[],
            is_active=True,
        )
        product.listing_id = listing.id
        product.search_text = search_text_of(
            [product.sku, product.name_ru, product.name_zh, product.name_en]
        )
        product.save(update_fields=["listing", "search_text"])


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0003_storefront_catalogue"),
    ]

    operations = [
        migrations.RunPython(listings_for_products, migrations.RunPython.noop),
    ]
