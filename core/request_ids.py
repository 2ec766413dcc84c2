"""Request and task ids on every log line, carried from a request into the
Celery tasks it enqueues.

The web request's id is the caller's `X-Request-ID` when it is a sane token
(a load balancer's), else a new one; it is echoed in the response. A task
published while a request id is current carries it in a message header,
and the worker puts it back around the task, with the task's own id.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

REQUEST_HEADER = "X-Request-ID"
# The Celery message header that carries the request id to the worker.
TASK_HEADER = "amur_request_id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id_var: ContextVar[str] = ContextVar("amur_request_id", default="")
task_id_var: ContextVar[str] = ContextVar("amur_task_id", default="")


def request_id_new() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_HEADER, "")
        request_id = given if _SANE.fullmatch(given) else request_id_new()
        # Kept until the response is closed (request_finished, below): Django
        # logs a 4xx or 5xx answer after the middleware has returned.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[REQUEST_HEADER] = request_id
        return response


def _request_finished(**_kwargs: Any) -> None:
    request_id_var.set("")


request_finished.connect(_request_finished, dispatch_uid="amur_request_id_clear")


class ContextFilter(logging.Filter):
    """Adds `request_id` and `task_id` (empty outside one) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.task_id = task_id_var.get()
        return True


# Celery signal handlers (connected in ecommerce/celery.py).


def task_publish_tag(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id:
        headers[TASK_HEADER] = request_id


_tokens: dict[str, tuple[Any, Any]] = {}


def task_context_enter(task_id: str = "", task: Any = None, **_kwargs: Any) -> None:
    request = getattr(task, "request", None)
    carried = getattr(request, TASK_HEADER, None) or (getattr(request, "headers", None) or {}).get(
        TASK_HEADER
    )
    # In process (eager) the request's own id is still current: keep it.
    request_token = request_id_var.set(carried or request_id_var.get())
    _tokens[task_id] = (request_token, task_id_var.set(task_id))


def task_context_leave(task_id: str = "", **_kwargs: Any) -> None:
    tokens = _tokens.pop(task_id, None)
    if tokens is not None:
        request_token, task_token = tokens
        task_id_var.reset(task_token)
        request_id_var.reset(request_token)
