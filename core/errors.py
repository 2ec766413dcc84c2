"""One error shape for the whole API: {"code", "message", "fields"}.

Services raise ApplicationError subclasses; the DRF exception handler and the
JSON 404/500 handlers turn every failure into that shape, with the message in
the language the request asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

logger = logging.getLogger(__name__)

Fields = dict[str, list[str]]


class ApplicationError(Exception):
    status_code: int = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    default_message: Any = _("The request is not valid.")

    def __init__(
        self,
        message: Any = None,
        *,
        code: str | None = None,
        fields: Mapping[str, list[Any]] | None = None,
        status_code: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.fields: Fields = {k: [force_str(m) for m in v] for k, v in (fields or {}).items()}
        self.extra = dict(extra or {})
        super().__init__(force_str(self.message))


class ValidationFailed(ApplicationError):
    code = "invalid"


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    default_message = _("Not found.")


class Forbidden(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "forbidden"
    default_message = _("You do not have permission to do this.")


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    default_message = _("The request conflicts with the current state.")


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = _("This change of status is not allowed.")


class Unprocessable(ApplicationError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "unprocessable"


class RequestTooLarge(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "request_too_large"
    default_message = _("The request is too large.")


# What Django raises when reading a body or query string beyond its limits
# (DATA_UPLOAD_MAX_MEMORY_SIZE, _NUMBER_FIELDS, _NUMBER_FILES).
TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


class PaymentDeclined(ApplicationError):
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    code = "payment_declined"
    default_message = _("The payment was declined.")


def error_body(
    code: str, message: Any, fields: Fields | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": force_str(message), "fields": fields or {}}
    body.update(extra)
    return body


def flatten_detail(detail: Any, prefix: str = "") -> Fields:
    """Turn DRF's nested error detail into {"lines[0].quantity": ["..."]}."""
    out: Fields = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            if isinstance(key, int) or (prefix and str(key).isdigit()):
                path = f"{prefix}[{key}]"
            elif key == "non_field_errors":
                path = prefix or "non_field_errors"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_detail(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(item, (Mapping, list)) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(force_str(i) for i in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(flatten_detail(item, f"{prefix}[{index}]"))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(force_str(detail))
    return out


_DRF_CODES: dict[type[Exception], tuple[str, Any]] = {
    drf_exceptions.ParseError: ("malformed_request", _("The request body could not be parsed.")),
    drf_exceptions.NotAuthenticated: ("not_authenticated", None),
    drf_exceptions.AuthenticationFailed: ("authentication_failed", None),
    drf_exceptions.PermissionDenied: ("forbidden", None),
    drf_exceptions.NotFound: ("not_found", _("Not found.")),
    drf_exceptions.MethodNotAllowed: ("method_not_allowed", None),
    drf_exceptions.NotAcceptable: ("not_acceptable", None),
    drf_exceptions.UnsupportedMediaType: ("unsupported_media_type", None),
    drf_exceptions.Throttled: ("throttled", None),
}


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    if isinstance(exc, TOO_LARGE):
        exc = RequestTooLarge()
    if isinstance(exc, ApplicationError):
        body = error_body(exc.code, exc.message, exc.fields, **exc.extra)
        return Response(body, status=exc.status_code)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if isinstance(exc, drf_exceptions.ValidationError):
        return Response(
            error_body("invalid", _("The request is not valid."), flatten_detail(exc.detail)),
            status=exc.status_code,
        )
    if isinstance(exc, drf_exceptions.APIException):
        code, message = "error", None
        for klass, (mapped_code, mapped_message) in _DRF_CODES.items():
            if isinstance(exc, klass):
                code, message = mapped_code, mapped_message
                break
        headers: dict[str, str] = {}
        wait = getattr(exc, "wait", None) if isinstance(exc, drf_exceptions.Throttled) else None
        if wait is not None:
            headers["Retry-After"] = str(int(wait))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        detail = exc.detail if message is None else message
        return Response(error_body(code, detail), status=exc.status_code, headers=headers)
    return None


def is_api(request: HttpRequest) -> bool:
    """The API answers in the error shape; the admin and the tracking page in HTML."""
    return request.path.startswith("/api/")


def error_response(exc: ApplicationError) -> JsonResponse:
    """The error shape outside DRF views (middleware, Django's error handlers)."""
    body = error_body(exc.code, exc.message, exc.fields, **exc.extra)
    return JsonResponse(body, status=exc.status_code)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not is_api(request):
        return bad_request(request, exception or BadRequest())
    if isinstance(exception, TOO_LARGE):
        return error_response(RequestTooLarge())
    return error_response(
        ApplicationError(_("The request could not be understood."), code="bad_request")
    )


def json_permission_denied(
    request: HttpRequest, exception: Exception | None = None
) -> HttpResponse:
    if not is_api(request):
        return permission_denied(request, exception or DjangoPermissionDenied())
    return error_response(Forbidden())


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not is_api(request):
        return page_not_found(request, exception or Http404())
    return error_response(NotFound())


def json_server_error(request: HttpRequest) -> HttpResponse:
    if not is_api(request):
        return server_error(request)
    return error_response(
        ApplicationError(
            _("Something went wrong on our side. Please try again."),
            code="server_error",
            status_code=500,
        )
    )
