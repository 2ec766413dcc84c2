from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Imported here, before any model class exists, so that its hook sees them all.
import core.labels  # noqa: F401


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from core import (
            checks,  # noqa: F401 - registers the checks
            lookups,  # noqa: F401 - registers field__any_of
            schema,  # noqa: F401 - registers the schema extensions
        )
