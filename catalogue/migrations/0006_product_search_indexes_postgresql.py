from django.db import migrations

# The expressions catalogue.selectors.products_search filters on, as Django
# writes them, so that the planner can use these indexes.
INDEXES = {
    "catalogue_product_search_trgm": "USING gin (search_text gin_trgm_ops)",
    "catalogue_product_search_fts": (
        "USING gin (to_tsvector('russian'::regconfig, COALESCE(search_text, '')))"
    ),
}


def indexes_create(apps, schema_editor):
    """PostgreSQL only: SQLite has neither pg_trgm nor tsvector, and its
    catalogue is small enough to scan. pg_trgm is a trusted extension, so
    the database's owner may create it without being a superuser."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON catalogue_product {definition}")


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0005_product_listing_required"),
    ]

    operations = [
        migrations.RunPython(indexes_create, indexes_drop),
    ]
