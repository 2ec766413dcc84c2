from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogueConfig(AppConfig):
    name = "catalogue"
    verbose_name = _("Catalogue")

    def ready(self) -> None:
        imagekit_signals_narrow()


IMAGEKIT_UID = "ik_spec_field_receivers"


def imagekit_signals_narrow() -> None:
    """imagekit follows the image fields its thumbnails are made from by
    listening to post_init and post_save of every model, so every instance
    of every model pays a signal dispatch: departing 20,000 parcels makes
    160,000 instances, and the dispatch took 1.8 s of its 7.7 s
    (bench/fanout.py). Here the same receivers listen to the models that
    have such a field, and only to them."""
    from django.apps import apps
    from django.db.models.signals import post_init, post_save
    from imagekit.specs.sourcegroups import signal_router

    sources = tuple(group.model_class for group in signal_router._source_groups)
    post_init.disconnect(dispatch_uid=IMAGEKIT_UID)
    post_save.disconnect(dispatch_uid=IMAGEKIT_UID)
    for model in apps.get_models():
        if sources and issubclass(model, sources):
            uid = f"{IMAGEKIT_UID}:{model._meta.label}"
            post_init.connect(signal_router.post_init_receiver, sender=model, dispatch_uid=uid)
            post_save.connect(signal_router.post_save_receiver, sender=model, dispatch_uid=uid)
