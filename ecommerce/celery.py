import os

from celery import Celery, signals

from core import request_ids

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")

app = Celery("ecommerce")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The request id rides in each task's message and is on the worker's log lines.
signals.before_task_publish.connect(request_ids.task_publish_tag, weak=False)
signals.task_prerun.connect(request_ids.task_context_enter, weak=False)
signals.task_postrun.connect(request_ids.task_context_leave, weak=False)


@signals.setup_logging.connect(weak=False)
def _django_logging(**_kwargs: object) -> None:
    """The worker logs through settings.LOGGING (JSON in production), not
    Celery's own format."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@signals.worker_init.connect(weak=False)
@signals.beat_init.connect(weak=False)
def _refuse_development_settings(**_kwargs: object) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from core.checks import production_refusals

    try:
        production_refusals()
    except ImproperlyConfigured as error:
        # Celery logs and swallows a handler's exceptions; an exit it cannot.
        raise SystemExit(str(error)) from None
