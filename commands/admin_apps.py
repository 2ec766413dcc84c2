"""Django's admin app with Amur's site as the default one. Its own module:
INSTALLED_APPS loads it before any model exists."""

from django.contrib.admin.apps import AdminConfig


class AmurAdminConfig(AdminConfig):
    default_site = "commands.admin_site.AmurAdminSite"
