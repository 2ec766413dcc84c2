"""Model and field names in the reader's language, without a verbose_name
argument on each of some 450 fields (and the migrations that would alter them).

A field declared without verbose_name gets its name with spaces ("tracking
number") as a plain string, which the admin prints as it is. When a model
class of Amur's apps is prepared, each such name is wrapped in gettext_lazy,
so the admin's columns, forms and filters translate it like any other
message. Deconstruction reads the argument as given, so migrations do not
change. The names are listed for makemessages by `manage.py labels_catalogue`
(ecommerce/model_labels.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db.models.signals import class_prepared
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy


def _lazy(text: Any) -> Any:
    return text if isinstance(text, Promise) or not text else gettext_lazy(str(text))


def _msgid(text: Any) -> str:
    with translation.override(None):
        return str(text)


def model_labels_translate(sender: Any, **kwargs: Any) -> None:
    opts = sender._meta
    if opts.app_label not in settings.AMUR_APPS:
        return
    opts.verbose_name = _lazy(opts.verbose_name)
    if "verbose_name_plural" not in opts.original_attrs:
        # Django's derived plural is the translated singular plus "s"; the
        # whole English plural is the message to translate instead.
        opts.verbose_name_plural = gettext_lazy(_msgid(opts.verbose_name_plural))
    opts.verbose_name_plural = _lazy(opts.verbose_name_plural)
    for field in opts.local_fields + opts.local_many_to_many:
        field.verbose_name = _lazy(field.verbose_name)


def labels_of_models(models: list[Any]) -> list[str]:
    """Every untranslated name the hook wraps: what the catalogue must hold."""
    names: set[str] = set()
    for model in models:
        opts = model._meta
        if opts.app_label not in settings.AMUR_APPS:
            continue
        texts = [opts.verbose_name, opts.verbose_name_plural]
        texts += [f.verbose_name for f in opts.local_fields + opts.local_many_to_many]
        names.update(_msgid(text) for text in texts if text)
    return sorted(names)


class_prepared.connect(model_labels_translate, dispatch_uid="core.labels")


def label_of(labels: Mapping[str, Promise], key: str, *, otherwise: str) -> str:
    """`key`'s label in the active language, or `otherwise` for a key the
    table does not hold (people's words, a code of someone else's)."""
    label = labels.get(key)
    return str(label) if label is not None else otherwise
