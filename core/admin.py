from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.models import IdempotencyKey


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "user", "method", "path", "status", "response_status", "created_at")
    list_filter = ("status", "method")
    search_fields = ("key", "path")
    # The stored bytes are shown as text, not as Python's repr of bytes.
    exclude = ("response_content",)
    readonly_fields = [
        *(f.name for f in IdempotencyKey._meta.fields if f.name != "response_content"),
        "response_text",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("response"))
    def response_text(self, obj: IdempotencyKey) -> str:
        if obj.response_content is None:
            return ""
        return bytes(obj.response_content).decode("utf-8", errors="replace")
