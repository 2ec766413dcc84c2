"""Amur's admin site: merchant staff land on their shop's dashboard,
operators on the models grouped by the work they serve and the next
departures' load. Installed as the default site by
`commands.admin_apps.AmurAdminConfig`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.models import Device

from commands import charts
from commands.dashboard import departures_load, merchant_dashboard
from core.tenancy import merchant_id_for_user

# The operators' index: each model under the work it serves, in this order.
# Models not named here fall under "Platform".
GROUPS: list[tuple[str, Any, list[str]]] = [
    (
        "orders",
        _("Orders and review"),
        ["orders.order", "orders.orderevent", "risk.riskhold", "risk.riskrule"],
    ),
    (
        "catalogue",
        _("Catalogue"),
        [
            "catalogue.merchant",
            "catalogue.listing",
            "catalogue.product",
            "catalogue.category",
            "catalogue.attribute",
        ],
    ),
    (
        "stock",
        _("Stock"),
        [
            "warehouses.warehouse",
            "warehouses.stocklevel",
            "warehouses.stockmovement",
            "warehouses.reservation",
            "shipping.transfer",
        ],
    ),
    (
        "shipping",
        _("Parcels and line-haul"),
        [
            "shipping.parcel",
            "shipping.departure",
            "shipping.lane",
            "shipping.trackingevent",
            "shipping.pendingevent",
            "shipping.trackingseries",
        ],
    ),
    ("customs", _("Customs"), ["shipping.dutyrule", "shipping.customshold"]),
    (
        "money",
        _("Money"),
        [
            "payments.payment",
            "payments.refund",
            "payments.settlementstatement",
            "payments.exchangerate",
            "payments.ledgertransaction",
            "payments.ledgerentry",
            "payments.ledgeraccount",
            "payments.paymentevent",
            "payments.providernotification",
            "payments.sandboxdispatch",
        ],
    ),
    (
        "cod",
        _("Cash on delivery"),
        ["payments.cashcollection", "payments.courierremittance", "payments.codreconciliation"],
    ),
    (
        "people",
        _("People"),
        [
            "accounts.merchantstaff",
            "accounts.buyer",
            "accounts.courier",
            "accounts.personaldataconsent",
            "accounts.staffpreference",
            "auth.user",
            "auth.group",
            "authtoken.tokenproxy",
        ],
    ),
    (
        "webhooks",
        _("Webhooks and events"),
        [
            "notifications.webhooksubscription",
            "notifications.webhookdelivery",
            "notifications.outboxevent",
        ],
    ),
]


def grouped_app_list(app_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Django's app list regrouped: the same model entries (with their
    permissions and links), under GROUPS' headings."""
    models = {
        f"{app['app_label']}.{model['object_name'].lower()}": model
        for app in app_list
        for model in app["models"]
    }
    groups = []
    placed: set[str] = set()
    for key, name, members in GROUPS:
        entries = [models[m] for m in members if m in models]
        placed.update(m for m in members if m in models)
        if entries:
            groups.append({"name": name, "app_label": key, "app_url": "", "models": entries})
    rest = [model for key, model in models.items() if key not in placed]
    if rest:
        groups.append(
            {"name": _("Platform"), "app_label": "platform", "app_url": "", "models": rest}
        )
    return groups


class AmurAdminSite(admin.AdminSite):
    site_header = _("Amur back office")
    site_title = _("Amur")
    index_title = _("Overview")
    # Amur has no storefront of its own: "View site" would lead nowhere.
    site_url = None

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        merchant_id = merchant_id_for_user(request.user)
        now = timezone.now()
        if merchant_id is not None:
            board = merchant_dashboard(
                merchant_id=merchant_id, now=now, tz=timezone.get_current_timezone()
            )
            context = {
                **self.each_context(request),
                "title": _("Dashboard"),
                "subtitle": None,
                "board": board,
                "orders_chart": charts.bar_chart(
                    [(d.day.strftime("%d.%m"), d.orders) for d in board.days],
                    label=_("Orders by day"),
                ),
                "sales_chart": charts.bar_chart(
                    [(d.day.strftime("%d.%m"), d.sales_cny) for d in board.days],
                    label=_("Sales by day, CNY"),
                ),
                "status_chart": charts.hbar_chart(
                    [(label, n) for _status, label, n in board.by_status],
                    label=_("Orders by status"),
                ),
                **(extra_context or {}),
            }
            request.current_app = self.name
            return TemplateResponse(request, "admin/amur/merchant_dashboard.html", context)
        app_list = self.get_app_list(request)
        context = {
            **self.each_context(request),
            "title": self.index_title,
            "subtitle": None,
            "app_list": grouped_app_list(app_list),
            "departures": departures_load(now=now) if request.user.is_staff else [],
            **(extra_context or {}),
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/amur/operator_index.html", context)


class AmurOTPLoginForm(OTPAdminAuthenticationForm):
    """The admin's login with a TOTP code. Staff enrol one authenticator app;
    django-otp alone would make them pick it from a list that only fills
    after a first, refused submit. With exactly one confirmed device the code
    is checked against it; with several the staff member still chooses."""

    def _chosen_device(self, user: Any) -> Any:
        device = super()._chosen_device(user)
        if device is not None or self.cleaned_data.get("otp_device"):
            return device
        devices = list(devices_for_user(user, confirmed=True))
        if len(devices) != 1:
            return None
        # for_verify locks the row, as django-otp does for a chosen device.
        return Device.from_persistent_id(devices[0].persistent_id, for_verify=True)
