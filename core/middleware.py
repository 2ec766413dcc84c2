"""Refuses, before any view runs, input that no view can handle.

Each of these reached the database and ended in a 500: PostgreSQL cannot hold
the NUL character in text, so a NUL in a query parameter or a header used in
a lookup (a token, an Idempotency-Key) failed there. And DRF's JSON parser
reads a body whatever its size, so DATA_UPLOAD_MAX_MEMORY_SIZE held only for
forms: the size is checked here, from Content-Length, before the body is read.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from core.errors import (
    ApplicationError,
    NotFound,
    RequestTooLarge,
    ValidationFailed,
    error_response,
    is_api,
)
from core.tenancy import merchant_id_for_user
from core.validators import CONTROL_CHARACTERS


def request_refusal(request: HttpRequest) -> ApplicationError | None:
    """Why the request is refused outright, or None to let it through."""
    if CONTROL_CHARACTERS.search(request.path):
        # No route's ids hold them: nothing by that name exists.
        return NotFound()
    for name, value in request.headers.items():
        if CONTROL_CHARACTERS.search(value):
            return ValidationFailed(
                _("A request header contains control characters."),
                code="invalid_header",
                fields={name: [_("Control characters are not allowed here.")]},
            )
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return ValidationFailed(
                _("A query parameter contains the NUL character."),
                code="invalid_query",
                fields={name.replace("\x00", "\ufffd"): [_("The NUL character is not allowed.")]},
            )
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and is_api(request) and _content_length(request) > limit:
        return RequestTooLarge(
            _("The request body is larger than %(limit)d bytes.") % {"limit": limit}
        )
    return None


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        # Django reads no body then either.
        return 0


class RequestGuardMiddleware:
    """request_refusal for every request: in the error shape under /api/,
    through Django's HTML 400 and 404 pages elsewhere (admin, tracking page).
    After LocaleMiddleware, so the message is in the caller's language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = request_refusal(request)
        if refusal is None:
            return self.get_response(request)
        if is_api(request):
            return error_response(refusal)
        if isinstance(refusal, NotFound):
            raise Http404
        raise BadRequest(str(refusal))


# ?lang= values and the language each means (Django's codes).
QUERY_LANGUAGES = {"ru": "ru", "zh-hans": "zh-hans", "zh": "zh-hans", "en": "en"}


class QueryLanguageMiddleware:
    """`?lang=` chooses the language over Accept-Language, as a link can
    carry it and a header cannot: for the whole request (labels, errors,
    Content-Language). Under /api/ an unknown value is a 400; on pages it
    is ignored. After LocaleMiddleware, which it overrides."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        asked = request.GET.get("lang")
        if asked is not None:
            language = QUERY_LANGUAGES.get(asked.lower())
            if language is not None:
                translation.activate(language)
                request.LANGUAGE_CODE = language
            elif is_api(request):
                return error_response(
                    ValidationFailed(fields={"lang": [_("Choose ru, zh-hans or en.")]})
                )
        return self.get_response(request)


def staff_time_zone(user: Any) -> tzinfo:
    """The zone a staff user reads times in: their own choice, else the
    merchant's staff in Harbin's (Asia/Shanghai), operators in UTC. The
    choice is reached through the user's `staff_preference` one-to-one
    (accounts.StaffPreference), as core.tenancy reaches the merchant."""
    preference = getattr(user, "staff_preference", None)
    if preference is not None and preference.time_zone:
        return zoneinfo.ZoneInfo(preference.time_zone)
    if merchant_id_for_user(user) is not None:
        return zoneinfo.ZoneInfo(settings.MERCHANT_STAFF_TIME_ZONE)
    return UTC


class StaffTimeZoneMiddleware:
    """Renders the admin's times in the viewer's zone (after authentication).
    Stored times stay UTC; only their display changes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_staff:
            return self.get_response(request)
        with timezone.override(staff_time_zone(user)):
            return self.get_response(request)
