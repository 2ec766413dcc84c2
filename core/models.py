from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedDateField, EncryptedTextField
from core.identity import RecipientIdentity


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key and the response it produced, for replay."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETE = "complete", _("Complete")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # Rows written before response_content: replayed from this JSON, re-rendered.
    response_body = models.JSONField(null=True, blank=True)
    # The bytes sent the first time, replayed as they are (jsonb reorders keys).
    response_content = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True, db_default="")
    locked_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("idempotency key")

        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class IdentityDocument(models.Model):
    """A recipient's identity document, every value encrypted at rest
    (core.fields). Concrete in accounts (the buyer's saved one) and orders
    (the one a parcel is declared with)."""

    passport_series = EncryptedTextField()
    passport_number = EncryptedTextField()
    passport_issued_on = EncryptedDateField()
    birth_date = EncryptedDateField()
    inn = EncryptedTextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return repr(self.identity())

    def identity(self) -> RecipientIdentity:
        return RecipientIdentity(
            passport_series=self.passport_series,
            passport_number=self.passport_number,
            passport_issued_on=self.passport_issued_on,
            birth_date=self.birth_date,
            inn=self.inn,
        )

    @staticmethod
    def values_of(identity: RecipientIdentity) -> dict[str, object]:
        return {
            "passport_series": identity.passport_series,
            "passport_number": identity.passport_number,
            "passport_issued_on": identity.passport_issued_on,
            "birth_date": identity.birth_date,
            "inn": identity.inn,
        }
