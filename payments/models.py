from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from catalogue.models import Merchant
from core.money import CURRENCY_CHOICES, MONEY_DIGITS, MONEY_PLACES, RATE_DIGITS, RATE_PLACES
from orders.models import Order


def _money() -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)


class ExchangeRate(models.Model):
    """Roubles for one unit of a currency on a date (Central Bank of Russia)."""

    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    date = models.DateField()
    rate_to_rub = models.DecimalField(max_digits=RATE_DIGITS, decimal_places=RATE_PLACES)
    source = models.CharField(max_length=40, default="cbr")
    fetched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("exchange rate")

        verbose_name_plural = _("exchange rates")
        ordering = ["-date", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "date"], name="rate_one_per_day"),
            models.CheckConstraint(condition=Q(rate_to_rub__gt=0), name="rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.date}: {self.rate_to_rub} RUB"


class Payment(models.Model):
    class Method(models.TextChoices):
        CARD = "card", _("Card")
        SBP = "sbp", _("SBP (Faster Payments System)")
        COD = "cod", _("Cash on delivery")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        REQUIRES_ACTION = "requires_action", _("Requires the buyer's confirmation")
        AUTHORISED = "authorised", _("Authorised, waiting for capture")
        AWAITING_CASH = "awaiting_cash", _("Awaiting cash on delivery")
        CAPTURED = "captured", _("Captured")
        FAILED = "failed", _("Failed")
        VOIDED = "voided", _("Voided")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")
        CHARGED_BACK = "charged_back", _("Charged back by the card's bank")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=4, choices=Method.choices)
    provider = models.CharField(max_length=20)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    refunded_amount = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="RUB")
    provider_reference = models.CharField(max_length=100, blank=True)
    decline_code = models.CharField(max_length=40, blank=True)
    confirmation_url = models.URLField(
        max_length=500,
        blank=True,
        help_text=_("Where the buyer confirms the payment (3-D Secure)."),
    )
    card_country = models.CharField(
        max_length=2,
        blank=True,
        help_text=_("The card's issuing country (ISO 3166-1 alpha-2), for the risk rules."),
    )
    # An SBP payment the buyer has not confirmed by then is voided.
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    captured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("payment")

        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="payment_refund_within_amount",
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(
                    status__in=[
                        "captured",
                        "awaiting_cash",
                        "partially_refunded",
                        "refunded",
                        "charged_back",
                    ]
                ),
                name="payment_one_settled_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.number}: {self.amount} {self.currency}, {self.get_status_display()}"


class PaymentEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", _("Created at the provider")
        REQUIRES_ACTION = "requires_action", _("Waiting for the buyer's confirmation")
        AUTHORISED = "authorised", _("Authorised")
        CAPTURED = "captured", _("Captured")
        VOIDED = "voided", _("Voided")
        REFUNDED = "refunded", _("Refunded")
        FAILED = "failed", _("Failed")
        COD_CONFIRMED = "cod_confirmed", _("Cash on delivery confirmed")
        CHARGED_BACK = "charged_back", _("Charged back by the card's bank")

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment event")

        verbose_name_plural = _("payment events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.kind} {self.amount}"


class ProviderNotification(models.Model):
    """A provider's notification that Amur acted on, once: a second copy with
    the same key finds this row and changes nothing."""

    provider = models.CharField(max_length=20)
    key = models.CharField(max_length=200)
    event = models.CharField(max_length=60)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="provider_notifications"
    )
    outcome = models.CharField(max_length=40)
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("provider notification")
        verbose_name_plural = _("provider notifications")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "key"], name="provider_notification_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event} {self.key}"


class SandboxDispatch(models.Model):
    """A notification the sandbox provider owes Amur, kept until delivered so
    that a lost task or a failed post is sent again by the sweep."""

    msg_id = models.CharField(max_length=60, unique=True)
    reference = models.CharField(max_length=100)
    event = models.CharField(max_length=40)
    body = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sandbox notification")
        verbose_name_plural = _("sandbox notifications")
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(delivered_at__isnull=True),
                name="sandbox_dispatch_undelivered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.msg_id} {self.event} {self.reference}"


class Refund(models.Model):
    """Money given back on a captured payment: through the card provider, or,
    for cash on delivery, as a bank transfer recorded with its reference; or
    taken back by the card's bank (a chargeback), with the provider's
    reference of the chargeback."""

    class Method(models.TextChoices):
        CARD = "card", _("Card, through the provider")
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")
        CHARGEBACK = "chargeback", _("Chargeback by the card's bank")

    class Status(models.TextChoices):
        # A card refund is asked of the provider after the refund is recorded
        # (payments.provider_calls); the others are done when recorded.
        PENDING = "pending", _("Asked of the provider")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Refused by the provider")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUCCEEDED)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    reason = models.CharField(max_length=300)
    method = models.CharField(max_length=20, choices=Method.choices)
    provider_reference = models.CharField(max_length=100, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            # A chargeback closes the payment: the bank takes it back once.
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(method="chargeback"),
                name="refund_one_chargeback_per_payment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.method} {self.amount} {self.currency}"


class ProviderCall(models.Model):
    """A call Amur owes a payment provider: a charge, capture, cancellation or
    refund. It is written in the transaction that decided it and made after
    that commits, with no row locked (payments.provider_calls), so a slow
    provider holds up nobody else; its answer comes back through the same
    path as the provider's notifications. The idempotence key makes a retried
    call one call at the provider."""

    class Kind(models.TextChoices):
        CHARGE = "charge", _("Charge")
        CAPTURE = "capture", _("Capture")
        CANCEL = "cancel", _("Cancel")
        REFUND = "refund", _("Refund")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")
        FAILED = "failed", _("Given up")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="provider_calls")
    refund = models.OneToOneField(
        Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="provider_call"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    provider = models.CharField(max_length=20)
    idempotence_key = models.CharField(max_length=120, unique=True)
    # What the call sends (amount, currency; a charge's one-time card token,
    # cleared once the provider has answered).
    request = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # A worker making the call holds it until then; past it, the call is
    # due again (the worker died, or the provider never answered).
    locked_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)
    # The provider's answer, as Amur understood it.
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("provider call")
        verbose_name_plural = _("provider calls")
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="provider_call_due",
                condition=Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotence_key} ({self.status})"


class LedgerAccount(models.Model):
    """One account of the double-entry ledger (the chart is a data migration)."""

    class Kind(models.TextChoices):
        ASSET = "asset", _("Asset")
        LIABILITY = "liability", _("Liability")
        REVENUE = "revenue", _("Revenue")
        EXPENSE = "expense", _("Expense")

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="RUB")
    per_merchant = models.BooleanField(
        default=False, help_text=_("Every entry names a merchant (a sub-ledger per merchant).")
    )

    class Meta:
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.currency})"

    @property
    def debit_normal(self) -> bool:
        return self.kind in (self.Kind.ASSET, self.Kind.EXPENSE)


class LedgerTransaction(models.Model):
    """A balanced set of entries, written in the same database transaction as
    the money movement it records. Append-only: corrections are new postings."""

    class Kind(models.TextChoices):
        CAPTURE = "capture", _("Card capture")
        COD_COLLECTION = "cod_collection", _("Cash collected on delivery")
        REFUND = "refund", _("Refund")
        PAYABLE_RELEASE = "payable_release", _("Merchant payable released")
        COD_UNMATCHED = "cod_unmatched", _("Cash collected not matching the cash due")
        COD_REMITTANCE = "cod_remittance", _("Cash remitted by a courier")
        CHARGEBACK = "chargeback", _("Chargeback by the card's bank")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_transactions"
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_transactions"
    )
    memo = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")
        ordering = ["id"]
        constraints = [
            # An order's payable is released once; a second run of the release
            # task finds it taken.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(kind="payable_release"),
                name="ledger_one_release_per_order",
            ),
        ]
        indexes = [models.Index(fields=["kind", "created_at"], name="ledger_txn_kind_created")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.memo}"


class LedgerEntry(models.Model):
    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    debit = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0)
    credit = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(debit__gte=0), name="ledger_debit_not_negative"),
            models.CheckConstraint(condition=Q(credit__gte=0), name="ledger_credit_not_negative"),
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(debit=0) & Q(credit__gt=0)),
                name="ledger_entry_one_side",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "merchant"], name="ledger_entry_account_merchant"),
        ]

    def __str__(self) -> str:
        side = f"Dr {self.debit}" if self.debit else f"Cr {self.credit}"
        return f"{self.account_id} {side} {self.currency}"


class SettlementStatement(models.Model):
    """What was released to one merchant in one ISO week (Monday to Sunday,
    UTC), order by order, in roubles and in yuan at each order's recorded
    rate. Rebuilt from the ledger while a draft; fixed once issued."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="statements")
    period_start = models.DateField(help_text=_("Monday, UTC."))
    period_end = models.DateField(help_text=_("Sunday, UTC (inclusive)."))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    goods_rub = _money()
    fee_rub = _money()
    refunds_rub = _money()
    net_rub = _money()
    net_cny = _money()
    built_at = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("settlement statement")
        verbose_name_plural = _("settlement statements")
        ordering = ["-period_start", "merchant_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "period_start"], name="statement_one_per_merchant_week"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=F("period_start")), name="statement_period_ordered"
            ),
            models.CheckConstraint(
                condition=Q(status="draft", issued_at__isnull=True)
                | Q(status="issued", issued_at__isnull=False),
                name="statement_issued_at_with_status",
            ),
        ]

    def __str__(self) -> str:
        period = f"{self.period_start} – {self.period_end}"
        return f"{self.merchant} {period}: {self.get_status_display()}"


# What a statement shows of each line (API and admin).
SETTLEMENT_LINE_FIELDS = (
    "order_number",
    "fulfilment_orders",
    "delivered_at",
    "goods_rub",
    "fee_rub",
    "refunds_rub",
    "net_rub",
    "cny_rub_rate",
    "net_cny",
)


class SettlementLine(models.Model):
    """One order on a statement: what its delivery released this week (goods
    share less the platform fee and refunds made before the release) less
    refunds made after an earlier release."""

    statement = models.ForeignKey(
        SettlementStatement, on_delete=models.CASCADE, related_name="lines"
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    order_number = models.CharField(max_length=20)
    # The merchant's own parts of the order (shipping.FulfilmentOrder), by
    # number: what the merchant packed and is paid for.
    fulfilment_orders = models.CharField(
        _("fulfilment orders"), max_length=300, blank=True, default="", db_default=""
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    goods_rub = _money()
    fee_rub = _money()
    refunds_rub = _money()
    net_rub = _money()
    cny_rub_rate = models.DecimalField(max_digits=RATE_DIGITS, decimal_places=RATE_PLACES)
    net_cny = _money()

    class Meta:
        verbose_name = _("settlement line")
        verbose_name_plural = _("settlement lines")
        ordering = ["delivered_at", "order_number"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "order"], name="statement_line_per_order"),
        ]

    def __str__(self) -> str:
        return f"{self.order_number} {self.net_rub} RUB"


class SettlementStatementEvent(models.Model):
    """Audit trail of a statement: built, rebuilt, issued."""

    statement = models.ForeignKey(
        SettlementStatement, on_delete=models.CASCADE, related_name="events"
    )
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, choices=SettlementStatement.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("settlement statement event")
        verbose_name_plural = _("settlement statement events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.statement_id} {self.from_status}->{self.to_status}"


# The cash-on-delivery models live in their own package; importing them here
# registers them with the payments app.
import payments.cod.models  # noqa: E402
import payments.receipts.models  # noqa: E402, F401
