from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from django_otp.admin import OTPAdminSite
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import api as accounts_api
from commands import (
    catalogue_api,
    courier_api,
    merchant_api,
    ops_api,
    orders_api,
    provider_api,
    returns_api,
)
from commands.admin_site import AmurOTPLoginForm
from core.converters import converters_register
from ecommerce import observability
from notifications import api as notifications_api
from payments import settlement_api
from payments.cod import api as cod_api
from payments.receipts import api as receipts_api
from shipping.customs import api as customs_api
from shipping.fulfilment import api as documents_api
from shipping.lastmile import api as lastmile_api
from shipping.linehaul import api as linehaul_api
from shipping.linehaul import manifests_api
from shipping.tracking import api as tracking_api
from shipping.tracking import page as tracking_page

# The admin needs a verified second factor (django-otp) as well as is_staff,
# in production (ADMIN_OTP_REQUIRED) and in the tests; the site keeps Amur's
# dashboards (commands.admin_site) under OTP's login and permission check.
if settings.ADMIN_OTP_REQUIRED and not isinstance(admin.site, OTPAdminSite):
    # admin.site is a LazyObject: its __class__ is the wrapped site's class.
    admin.site.__class__ = type(
        "AmurOTPAdminSite",
        (OTPAdminSite, admin.site.__class__),
        {"login_form": AmurOTPLoginForm},
    )

# Before the routes: they name these converters.
converters_register()

v1 = [
    path("auth/register/", accounts_api.RegisterView.as_view(), name="auth-register"),
    path("auth/token/", accounts_api.TokenView.as_view(), name="auth-token"),
    path("auth/token/revoke/", accounts_api.TokenRevokeView.as_view(), name="auth-token-revoke"),
    path(
        "account/recipient-identity/",
        accounts_api.AccountRecipientIdentityView.as_view(),
        name="account-recipient-identity",
    ),
    path("products/", catalogue_api.ProductListView.as_view(), name="product-list"),
    path("products/<str:sku>/", catalogue_api.ProductDetailView.as_view(), name="product-detail"),
    path("listings/", catalogue_api.ListingListView.as_view(), name="listing-list"),
    path("listings/<str:key>/", catalogue_api.ListingDetailView.as_view(), name="listing-detail"),
    path("categories/", catalogue_api.CategoryTreeView.as_view(), name="category-tree"),
    path("checkout/quote/", orders_api.QuoteView.as_view(), name="checkout-quote"),
    path("pickup-points/", lastmile_api.PickupPointListView.as_view(), name="pickup-point-list"),
    path(
        "carriers/webhooks/cdek/",
        lastmile_api.CdekWebhookView.as_view(),
        name="carriers-webhook-cdek",
    ),
    path("orders/", orders_api.OrderListCreateView.as_view(), name="order-list"),
    path("orders/<order:number>/", orders_api.OrderDetailView.as_view(), name="order-detail"),
    path(
        "orders/<order:number>/events/", orders_api.OrderEventsView.as_view(), name="order-events"
    ),
    path("orders/<order:number>/pay/", orders_api.OrderPayView.as_view(), name="order-pay"),
    path(
        "orders/<order:number>/receipts/",
        receipts_api.OrderReceiptsView.as_view(),
        name="order-receipts",
    ),
    path(
        "orders/<order:number>/cancel/", orders_api.OrderCancelView.as_view(), name="order-cancel"
    ),
    path(
        "orders/<order:number>/returns/",
        returns_api.OrderReturnsView.as_view(),
        name="order-returns",
    ),
    path("ops/returns/", returns_api.OpsReturnListView.as_view(), name="ops-returns"),
    path(
        "ops/returns/<return:number>/decision/",
        returns_api.OpsReturnDecisionView.as_view(),
        name="ops-return-decision",
    ),
    path(
        "ops/returns/<return:number>/ship/",
        returns_api.OpsReturnShipView.as_view(),
        name="ops-return-ship",
    ),
    path(
        "ops/returns/<return:number>/receive/",
        returns_api.OpsReturnReceiveView.as_view(),
        name="ops-return-receive",
    ),
    path(
        "orders/<order:number>/recipient-identity/",
        customs_api.OrderRecipientIdentityView.as_view(),
        name="order-recipient-identity",
    ),
    path(
        "payments/webhooks/sandbox/",
        provider_api.SandboxWebhookView.as_view(),
        name="payments-webhook-sandbox",
    ),
    path(
        "payments/webhooks/yookassa/",
        provider_api.YooKassaWebhookView.as_view(),
        name="payments-webhook-yookassa",
    ),
    path(
        "payments/sandbox/confirm/<sandbox_ref:reference>/",
        provider_api.SandboxConfirmView.as_view(),
        name="payments-sandbox-confirm",
    ),
    path(
        "ops/payments/<id:payment_id>/refund/",
        ops_api.OpsPaymentRefundView.as_view(),
        name="ops-payment-refund",
    ),
    path(
        "tracking/<s10:tracking_number>/",
        tracking_api.TrackingView.as_view(),
        name="tracking-detail",
    ),
    path("courier/scans/", courier_api.CourierScansView.as_view(), name="courier-scans"),
    path("webhooks/", notifications_api.WebhookListCreateView.as_view(), name="webhook-list"),
    path(
        "webhooks/<id:subscription_id>/",
        notifications_api.WebhookDetailView.as_view(),
        name="webhook-detail",
    ),
    path(
        "ops/orders/<order:number>/pack/",
        ops_api.OpsOrderPackView.as_view(),
        name="ops-order-pack",
    ),
    path(
        "ops/orders/<order:number>/review/",
        ops_api.OpsOrderReviewView.as_view(),
        name="ops-order-review",
    ),
    path(
        "ops/orders/<order:number>/packing-slip/",
        documents_api.OpsPackingSlipView.as_view(),
        name="ops-packing-slip",
    ),
    path(
        "ops/parcels/<s10:tracking_number>/label/",
        documents_api.OpsParcelLabelView.as_view(),
        name="ops-parcel-label",
    ),
    path(
        "ops/parcels/<s10:tracking_number>/declaration/",
        manifests_api.OpsParcelDeclarationView.as_view(),
        name="ops-parcel-declaration",
    ),
    path(
        "ops/warehouses/<warehouse:code>/pick-list/",
        documents_api.OpsPickListView.as_view(),
        name="ops-pick-list",
    ),
    path(
        "ops/warehouses/<warehouse:code>/pick-list/pdf/",
        documents_api.OpsPickListPdfView.as_view(),
        name="ops-pick-list-pdf",
    ),
    path("ops/lanes/<lane:code>/plan/", linehaul_api.OpsLanePlanView.as_view(), name="ops-plan"),
    path("ops/departures/", linehaul_api.OpsDepartureListView.as_view(), name="ops-departures"),
    path(
        "ops/departures/<id:departure_id>/status/",
        linehaul_api.OpsDepartureStatusView.as_view(),
        name="ops-departure-status",
    ),
    path(
        "ops/departures/<id:departure_id>/manifest/",
        manifests_api.OpsDepartureManifestView.as_view(),
        name="ops-departure-manifest",
    ),
    path(
        "ops/departures/<id:departure_id>/manifest/pdf/",
        manifests_api.OpsDepartureManifestPdfView.as_view(),
        name="ops-departure-manifest-pdf",
    ),
    path(
        "ops/departures/<id:departure_id>/manifest/registry-csv/",
        manifests_api.OpsDepartureRegistryCsvView.as_view(),
        name="ops-departure-registry-csv",
    ),
    path(
        "ops/departures/<id:departure_id>/manifest/cargo-csv/",
        manifests_api.OpsDepartureCargoCsvView.as_view(),
        name="ops-departure-cargo-csv",
    ),
    path(
        "merchant/fulfilment-orders/",
        merchant_api.MerchantFulfilmentOrderListView.as_view(),
        name="merchant-fulfilment-orders",
    ),
    path(
        "merchant/fulfilment-orders/<part:number>/",
        merchant_api.MerchantFulfilmentOrderDetailView.as_view(),
        name="merchant-fulfilment-order",
    ),
    path(
        "merchant/fulfilment-orders/<part:number>/pack/",
        merchant_api.MerchantFulfilmentOrderPackView.as_view(),
        name="merchant-fulfilment-order-pack",
    ),
    path(
        "merchant/fulfilment-orders/<part:number>/packing-slip/",
        merchant_api.MerchantFulfilmentOrderSlipView.as_view(),
        name="merchant-fulfilment-order-slip",
    ),
    path(
        "merchant/fulfilment-orders/<part:number>/labels/",
        merchant_api.MerchantFulfilmentOrderLabelsView.as_view(),
        name="merchant-fulfilment-order-labels",
    ),
    path(
        "merchant/statements/",
        settlement_api.MerchantStatementListView.as_view(),
        name="merchant-statements",
    ),
    path(
        "merchant/statements/<id:statement_id>/",
        settlement_api.MerchantStatementDetailView.as_view(),
        name="merchant-statement-detail",
    ),
    path(
        "merchant/statements/<id:statement_id>/csv/",
        settlement_api.MerchantStatementCsvView.as_view(),
        name="merchant-statement-csv",
    ),
    path(
        "merchant/statements/<id:statement_id>/pdf/",
        settlement_api.MerchantStatementPdfView.as_view(),
        name="merchant-statement-pdf",
    ),
    path(
        "ops/couriers/<id:courier_id>/remittances/",
        cod_api.OpsCourierRemittanceView.as_view(),
        name="ops-courier-remittances",
    ),
    path(
        "ops/cod/reconciliations/",
        cod_api.OpsCodReconciliationListView.as_view(),
        name="ops-cod-reconciliations",
    ),
    path("ops/transfers/", linehaul_api.OpsTransferCreateView.as_view(), name="ops-transfers"),
    path(
        "ops/transfers/<id:transfer_id>/dispatch/",
        ops_api.OpsTransferDispatchView.as_view(),
        name="ops-transfer-dispatch",
    ),
    path(
        "ops/transfers/<id:transfer_id>/receive/",
        ops_api.OpsTransferReceiveView.as_view(),
        name="ops-transfer-receive",
    ),
    path(
        "ops/transfers/<id:transfer_id>/cancel/",
        linehaul_api.OpsTransferCancelView.as_view(),
        name="ops-transfer-cancel",
    ),
]

urlpatterns = [
    path("healthz", observability.healthz, name="healthz"),
    path("readyz", observability.readyz, name="readyz"),
    path("metrics", observability.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # The admin's language switcher posts here (django.views.i18n.set_language).
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include(v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("track/<str:tracking_number>", tracking_page.tracking_page, name="tracking-page"),
]

handler400 = "core.errors.json_bad_request"
handler403 = "core.errors.json_permission_denied"

if settings.SERVE_MEDIA:
    # Catalogue images from MEDIA_ROOT, where no S3 bucket or web server serves them.
    media = settings.MEDIA_URL.strip("/")
    urlpatterns.append(
        re_path(rf"^{media}/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})
    )

handler404 = "core.errors.json_not_found"
handler500 = "core.errors.json_server_error"
