import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")
application = get_wsgi_application()

from core.checks import production_refusals  # noqa: E402 - needs the apps loaded

production_refusals()
