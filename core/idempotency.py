"""Idempotency-Key handling for POSTs that create something.

The key row is committed on its own before the work starts, so a concurrent
request with the same key sees it (409). The response is stored in the same
transaction as the work, so a crash leaves either both or neither. Only
successful responses are kept: a request that failed may be retried with the
same key. A replay sends the first response's bytes and content type as they
were, with `Idempotent-Replayed: true`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.http import HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import caller_id
from core.errors import Conflict, Unprocessable, ValidationFailed
from core.locking import locked_transaction
from core.models import IdempotencyKey
from core.rawsql import insert_rows
from core.validators import CONTROL_CHARACTERS

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# The row keeps the path for people reading it (the admin); the fingerprint,
# made from the whole path, is what tells requests apart.
PATH_MAX_LENGTH = cast(int, IdempotencyKey._meta.get_field("path").max_length)
ViewMethod = TypeVar("ViewMethod", bound=Callable[..., "Response | AfterCommit"])


def request_fingerprint(*, method: str, path: str, data: Any) -> str:
    canonical = json.dumps(
        {"method": method, "path": path, "data": data},
        sort_keys=True,
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key_begin(
    *, user_id: int, key: str, fingerprint: str, method: str, path: str
) -> tuple[IdempotencyKey, bool]:
    """Claim the key. Returns (row, replay): replay is True when the stored
    response must be sent back instead of running the request."""
    conf = settings.AMUR
    now = timezone.now()
    for _attempt in range(2):
        row = _key_insert(
            user_id=user_id,
            key=key,
            fingerprint=fingerprint,
            method=method,
            path=path,
            now=now,
            expires_at=now + timedelta(hours=conf["IDEMPOTENCY_KEY_TTL_HOURS"]),
        )
        if row is not None:
            return row, False
        # Taken: by a finished request, one in flight, or an expired one.
        existing = IdempotencyKey.objects.filter(user_id=user_id, key=key).first()
        if existing is None:
            continue
        if existing.expires_at <= now:
            IdempotencyKey.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise Unprocessable(
                _("This Idempotency-Key was already used with a different request."),
                code="idempotency_key_reused",
            )
        if existing.status == IdempotencyKey.Status.COMPLETE:
            return existing, True
        stale_before = now - timedelta(seconds=conf["IDEMPOTENCY_STALE_SECONDS"])
        taken = IdempotencyKey.objects.filter(
            pk=existing.pk,
            status=IdempotencyKey.Status.IN_PROGRESS,
            locked_at__lt=stale_before,
        ).update(locked_at=now)
        if taken:
            existing.locked_at = now
            return existing, False
        raise Conflict(
            _("A request with this Idempotency-Key is still being processed."),
            code="idempotency_request_in_progress",
        )
    raise Conflict(
        _("A request with this Idempotency-Key is still being processed."),
        code="idempotency_request_in_progress",
    )


_KEY_COLUMNS = ("user_id", "key", "fingerprint", "method", "path", "status")
_KEY_TIMES = ("locked_at", "created_at", "expires_at")


def _key_insert(
    *,
    user_id: int,
    key: str,
    fingerprint: str,
    method: str,
    path: str,
    now: datetime,
    expires_at: datetime,
) -> IdempotencyKey | None:
    """Insert the key, committed at once (autocommit), or None if it exists:
    one statement, where a create in its own transaction took three.
    Hand-written: the ORM has no INSERT ... ON CONFLICT DO NOTHING RETURNING
    (bulk_create with ignore_conflicts returns no id), so its twin needs a
    second query on every keyed request."""
    status = IdempotencyKey.Status.IN_PROGRESS
    values = (user_id, key, fingerprint, method, path, status, now, now, expires_at)
    inserted = insert_rows(
        IdempotencyKey,
        _KEY_COLUMNS + _KEY_TIMES,
        [values],
        skip_conflicts_on=("user_id", "key"),
    )
    if not inserted:
        return None
    fields = dict(zip(_KEY_COLUMNS + _KEY_TIMES, values, strict=True))
    return IdempotencyKey(id=inserted[0][0], **fields)


def idempotency_key_complete(
    *, row: IdempotencyKey, status: int, content: bytes, content_type: str
) -> None:
    # One hand-written UPDATE on every success.
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, response_status = %s,"  # noqa: S608
            " response_content = %s, response_content_type = %s WHERE id = %s",
            [IdempotencyKey.Status.COMPLETE, status, content, content_type, row.pk],
        )


def idempotency_key_replay(*, row: IdempotencyKey) -> HttpResponseBase:
    """The stored response again: its very bytes, or for a row stored before
    they were kept, its JSON rendered anew."""
    headers = {REPLAYED_HEADER: "true"}
    if row.response_content is None:
        return Response(row.response_body, status=row.response_status, headers=headers)
    return HttpResponse(
        bytes(row.response_content),  # memoryview on PostgreSQL
        status=row.response_status,
        content_type=row.response_content_type or None,
        headers=headers,
    )


def _response_store(view: Any, request: Request, row: IdempotencyKey, response: Response) -> None:
    """Store the response's body and content type as the client will get them.

    DRF renders a Response after the view returns, outside the transaction
    that stores it; render it now, as DRF would (same renderer, media type and
    context), so the bytes stored are the bytes sent. DRF does not render a
    response twice."""
    if not response.is_rendered:
        response.accepted_renderer = request.accepted_renderer
        response.accepted_media_type = request.accepted_media_type
        response.renderer_context = view.get_renderer_context()  # type: ignore[attr-defined]
        response.render()
    idempotency_key_complete(
        row=row,
        status=response.status_code,
        content=response.content,
        content_type=response.get("Content-Type", ""),
    )


def idempotency_key_release(*, row: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=row.pk, status=IdempotencyKey.Status.IN_PROGRESS).delete()


def idempotency_keys_purge() -> int:
    deleted, _details = IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def read_key(request: Request, *, required: bool) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        if required:
            raise ValidationFailed(
                _("The Idempotency-Key header is required."),
                code="idempotency_key_required",
                fields={HEADER: [_("This header is required.")]},
            )
        return None
    if not 1 <= len(key) <= 255:
        raise ValidationFailed(
            _("The Idempotency-Key header must be 1 to 255 characters."),
            code="idempotency_key_invalid",
            fields={HEADER: [_("Use 1 to 255 characters.")]},
        )
    if CONTROL_CHARACTERS.search(key):
        raise ValidationFailed(
            _("The Idempotency-Key header may not contain control characters."),
            code="idempotency_key_invalid",
            fields={HEADER: [_("Control characters are not allowed here.")]},
        )
    return key


@dataclass(frozen=True)
class AfterCommit:
    """A view's answer that can only be made once its transaction has
    committed: it waits for an outside call (a payment provider) that must not
    run while rows are locked. `respond` makes the call and the response; with
    an Idempotency-Key, that response is what replays return."""

    respond: Callable[[], Response]


def idempotent(*, required: bool = False) -> Callable[[ViewMethod], ViewMethod]:
    """Decorate an APIView method (post) so that it honours Idempotency-Key.
    The method returns a Response, or AfterCommit for one made after commit."""

    def decorator(view_method: ViewMethod) -> ViewMethod:
        @functools.wraps(view_method)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
            key = read_key(request, required=required)
            if key is None:
                result = view_method(view, request, *args, **kwargs)
                return result.respond() if isinstance(result, AfterCommit) else result
            fingerprint = request_fingerprint(
                method=request.method or "", path=request.path, data=request.data
            )
            row, replay = idempotency_key_begin(
                user_id=caller_id(request),
                key=key,
                fingerprint=fingerprint,
                method=request.method or "",
                path=request.path[:PATH_MAX_LENGTH],
            )
            if replay:
                return idempotency_key_replay(row=row)
            try:
                with locked_transaction():
                    result = view_method(view, request, *args, **kwargs)
                    if isinstance(result, AfterCommit):
                        deferred = result
                    else:
                        deferred, response = None, result
                        if 200 <= response.status_code < 300:
                            _response_store(view, request, row, response)
                if deferred is not None:
                    # The work is committed: the key stays taken (in progress)
                    # until the answer is stored, so a retry meanwhile is a 409,
                    # never a second attempt.
                    response = deferred.respond()
                    if 200 <= response.status_code < 300:
                        _response_store(view, request, row, response)
            except BaseException:
                idempotency_key_release(row=row)
                raise
            if not 200 <= response.status_code < 300:
                idempotency_key_release(row=row)
            return response

        return cast(ViewMethod, wrapper)

    return decorator
