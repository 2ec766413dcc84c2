"""Settings read from the environment.

Embedded (default): SQLite file, Celery tasks run in process after commit.
Services: DATABASE_URL (PostgreSQL) and REDIS_URL (Celery broker and results).
Production: AMUR_PRODUCTION=1 refuses the development secret key and turns on
the security settings that `manage.py check --deploy` asks for.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

import dj_database_url
from celery.schedules import crontab
from corsheaders.defaults import default_headers as cors_default_headers
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "amur-development-key-not-for-production"  # noqa: S105 - refused in production
# The Fernet key of "amur-dev-field-key-not-for-prod!": encrypts identity
# documents in development and tests; refused in production.
DEV_FIELD_ENCRYPTION_KEY = "YW11ci1kZXYtZmllbGQta2V5LW5vdC1mb3ItcHJvZCE="


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = env_bool("AMUR_PRODUCTION", False)
SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# Fernet keys for the encrypted model fields (core.fields), newest first: the
# first encrypts, every one decrypts (rotation: see `encrypted_fields_rotate`).
FIELD_ENCRYPTION_KEYS = env_list(
    "FIELD_ENCRYPTION_KEYS", "" if PRODUCTION else DEV_FIELD_ENCRYPTION_KEY
)

if PRODUCTION:
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "AMUR_PRODUCTION=1 needs SECRET_KEY set to a random value of at least 50 characters."
        )
    if DEBUG:
        raise ImproperlyConfigured("AMUR_PRODUCTION=1 cannot run with DEBUG on.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("AMUR_PRODUCTION=1 needs ALLOWED_HOSTS.")
    if not FIELD_ENCRYPTION_KEYS or DEV_FIELD_ENCRYPTION_KEY in FIELD_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(
            "AMUR_PRODUCTION=1 needs FIELD_ENCRYPTION_KEYS set to your own Fernet keys"
            " (not the development key)."
        )
    for _key in FIELD_ENCRYPTION_KEYS:
        try:
            Fernet(_key)
        except ValueError:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key."
            ) from None
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Amur's own apps, lowest layer first (core/labels.py translates their models' names).
AMUR_APPS = [
    "core",
    "notifications",
    "catalogue",
    "accounts",
    "orders",
    "warehouses",
    "risk",
    "shipping",
    "payments",
    "commands",
]
INSTALLED_APPS = [
    # The stock admin with Amur's site: dashboards as the index (commands/admin_site.py).
    "commands.admin_apps.AmurAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "treebeard",
    "import_export",
    "imagekit",
    *AMUR_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything that may answer on its own (CommonMiddleware), so that a
    # preflight gets its CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "core.middleware.RequestGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.StaffTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if PRODUCTION:
    # gunicorn serves the admin's and the API docs' static files itself.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "ecommerce.urls"
WSGI_APPLICATION = "ecommerce.wsgi.application"
ASGI_APPLICATION = "ecommerce.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "ecommerce" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

VAR_DIR = Path(os.environ.get("AMUR_VAR_DIR", BASE_DIR / "var"))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "amur.sqlite3"),
            # A busy runserver thread should wait for the write lock, not fail.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("zh-hans", _("Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
# Product import needs the right to change products, export the right to see them.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
# Merchant staff read the admin's times in this zone unless they chose another
# (accounts.StaffPreference); operator staff read UTC.
MERCHANT_STAFF_TIME_ZONE = os.environ.get("MERCHANT_STAFF_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Uploaded files (catalogue images and their thumbnails): the local file system
# by default, an S3-compatible bucket when AWS_STORAGE_BUCKET_NAME is set (the
# credentials come from boto3's usual AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
MEDIA_URL = os.environ.get("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Django serves MEDIA_ROOT itself only where nothing better is in front of it.
SERVE_MEDIA = env_bool("SERVE_MEDIA", not PRODUCTION)
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "custom_domain": os.environ.get("AWS_S3_CUSTOM_DOMAIN") or None,
            # Product pictures are public: plain URLs, no expiring signatures.
            "querystring_auth": False,
            "file_overwrite": False,
        },
    }

# CORS for browser storefronts on their own domains: only the listed origins,
# only the API. Token auth travels in a header, so no cookies are allowed.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", "")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Idempotent-Replayed", "Retry-After"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.BuyerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "auth": os.environ.get("AUTH_THROTTLE_RATE", "20/min"),
        # Per client address; providers send a few notifications per payment.
        "provider_webhooks": os.environ.get("PROVIDER_WEBHOOK_THROTTLE_RATE", "600/min"),
    },
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Amur API",
    "DESCRIPTION": "Orders and fulfilment for cross-border e-commerce from Heilongjiang to Russia.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # core.converters.IdConverter: an integer of 1 to 18 digits.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema_add_common_errors",
    ],
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "PaymentMethodEnum": "orders.models.PaymentMethod",
        "ParcelStatusEnum": "shipping.models.ParcelStatus",
        "UnassignedReasonEnum": "shipping.models.UnassignedReason",
        "SettlementStatementStatusEnum": "payments.models.SettlementStatement.Status",
    },
}

# Celery: with REDIS_URL the real broker; without it tasks run in this process.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish while Redis is down must fail fast: the outbox sweep sends it later.
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "notifications.outbox_sweep", "schedule": timedelta(seconds=15)},
    "orders-expire-unpaid": {
        "task": "commands.orders_expire_unpaid",
        "schedule": timedelta(minutes=1),
    },
    # The Bank of Russia publishes tomorrow's rates in the afternoon, Moscow time.
    "exchange-rates-refresh": {
        "task": "payments.rates_refresh",
        "schedule": crontab(minute=30, hour="10,13,16"),
    },
    # Courier scans whose enqueue the broker missed still reach their parcels.
    "pending-events-sweep": {
        "task": "shipping.pending_events_apply",
        "schedule": timedelta(seconds=30),
    },
    "lanes-plan": {"task": "shipping.lanes_plan", "schedule": timedelta(minutes=10)},
    "parcels-expire": {"task": "shipping.parcels_expire", "schedule": crontab(minute=15, hour=3)},
    "provider-calls-sweep": {
        "task": "commands.provider_calls_run",
        "schedule": timedelta(seconds=30),
    },
    "sandbox-notifications-sweep": {
        "task": "commands.sandbox_notifications_sweep",
        "schedule": timedelta(minutes=1),
    },
    # 01:30 in Moscow: the previous two days' cash, per courier.
    "cod-reconcile": {"task": "payments.cod_reconcile", "schedule": crontab(minute=30, hour=22)},
    "idempotency-purge": {"task": "core.idempotency_purge", "schedule": timedelta(hours=1)},
    "payables-release": {"task": "payments.payables_release", "schedule": timedelta(hours=1)},
    # Monday 02:00 UTC: last week (Monday to Sunday, UTC) is closed.
    "settlement-statements-weekly": {
        "task": "payments.statements_weekly",
        "schedule": crontab(minute=0, hour=2, day_of_week=1),
    },
    # 03:45 UTC: recipients of orders closed past RECIPIENT_DATA_RETENTION_DAYS.
    "recipients-anonymise": {
        "task": "orders.recipients_anonymise",
        "schedule": crontab(minute=45, hour=3),
    },
}

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Amur <no-reply@amur.example>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}


class AmurSettings(TypedDict):
    WEBHOOK_TIMEOUT_SECONDS: float
    WEBHOOK_MAX_ATTEMPTS: int
    IDEMPOTENCY_KEY_TTL_HOURS: int
    IDEMPOTENCY_STALE_SECONDS: int
    UNPAID_ORDER_TTL_MINUTES: int
    S10_PREFIX: str
    S10_COUNTRY: str
    MAX_ORDER_LINES: int
    RATE_MAX_AGE_HOURS: int
    WEBHOOK_ALLOW_PRIVATE_URLS: bool
    MAX_LINE_QUANTITY: int
    CBR_DAILY_URL: str
    PACK_WEIGHT_TOLERANCE: float
    PLATFORM_FEE_RATE: Decimal
    RETURNS_WINDOW_DAYS: int
    PAYMENT_PROVIDER: str
    PUBLIC_BASE_URL: str
    SANDBOX_WEBHOOK_SECRET: str
    SANDBOX_LATENCY_SECONDS: float
    PROVIDER_WEBHOOK_TOLERANCE_SECONDS: int
    YOOKASSA_SHOP_ID: str
    YOOKASSA_SECRET_KEY: str
    YOOKASSA_API_URL: str
    COD_DAY_TIMEZONE: str
    COD_REFUSAL_THRESHOLD: int
    COD_REFUSED_LIMIT_RUB: Decimal
    STOREFRONT_PRODUCT_URL: str
    RECIPIENT_DATA_RETENTION_DAYS: int
    PERSONAL_DATA_POLICY_VERSION: str


# Domain settings.
AMUR: AmurSettings = {
    "WEBHOOK_TIMEOUT_SECONDS": float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5")),
    "WEBHOOK_MAX_ATTEMPTS": 8,
    "IDEMPOTENCY_KEY_TTL_HOURS": 24,
    "IDEMPOTENCY_STALE_SECONDS": 300,
    "UNPAID_ORDER_TTL_MINUTES": int(os.environ.get("UNPAID_ORDER_TTL_MINUTES", "30")),
    "S10_PREFIX": os.environ.get("S10_PREFIX", "RR"),
    "S10_COUNTRY": "CN",
    "MAX_ORDER_LINES": 50,
    "RATE_MAX_AGE_HOURS": int(os.environ.get("RATE_MAX_AGE_HOURS", "48")),
    "WEBHOOK_ALLOW_PRIVATE_URLS": env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", not PRODUCTION),
    "MAX_LINE_QUANTITY": 999,
    "CBR_DAILY_URL": os.environ.get("CBR_DAILY_URL", "https://www.cbr.ru/scripts/XML_daily.asp"),
    # A packed parcel's measured weight may differ from its contents' catalogue
    # weight by this fraction; beyond it, operator staff must give a reason.
    "PACK_WEIGHT_TOLERANCE": float(os.environ.get("PACK_WEIGHT_TOLERANCE", "0.10")),
    # Amur's commission on the goods (not shipping or duty), kept from what is
    # payable to merchants; the ledger posts it to platform_fee on each capture.
    "PLATFORM_FEE_RATE": Decimal(os.environ.get("PLATFORM_FEE_RATE", "0.05")),
    # A merchant's payable for an order is released this many days after
    # delivery, once the buyer can no longer return the goods.
    "RETURNS_WINDOW_DAYS": int(os.environ.get("RETURNS_WINDOW_DAYS", "14")),
    # The card provider for new payments (sandbox or yookassa); a payment keeps
    # the provider it was made with, so refunds go back through it.
    "PAYMENT_PROVIDER": os.environ.get("PAYMENT_PROVIDER", "sandbox"),
    # Amur's public address, e.g. https://amur.example: the sandbox posts its
    # notifications there and YooKassa returns the buyer there. Empty: the
    # sandbox hands its notifications to the same verifying code in process.
    "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "").rstrip("/"),
    # Every sandbox call waits this long, as a slow acquirer would.
    "SANDBOX_LATENCY_SECONDS": float(os.environ.get("SANDBOX_LATENCY_SECONDS", "0")),
    "SANDBOX_WEBHOOK_SECRET": os.environ.get(
        "SANDBOX_WEBHOOK_SECRET", "whsec_c2FuZGJveC1kZXZlbG9wbWVudC1vbmx5LXNlY3JldA=="
    ),
    # A signed provider notification older or newer than this is refused (replay).
    "PROVIDER_WEBHOOK_TOLERANCE_SECONDS": 300,
    "YOOKASSA_SHOP_ID": os.environ.get("YOOKASSA_SHOP_ID", ""),
    "YOOKASSA_SECRET_KEY": os.environ.get("YOOKASSA_SECRET_KEY", ""),
    "YOOKASSA_API_URL": os.environ.get("YOOKASSA_API_URL", "https://api.yookassa.ru/v3"),
    # Couriers' cash is reconciled per calendar day in this time zone.
    "COD_DAY_TIMEZONE": os.environ.get("COD_DAY_TIMEZONE", "Europe/Moscow"),
    # A buyer with this many refused cash-on-delivery deliveries may pay cash
    # on delivery only for orders up to COD_REFUSED_LIMIT_RUB.
    "COD_REFUSAL_THRESHOLD": int(os.environ.get("COD_REFUSAL_THRESHOLD", "2")),
    "COD_REFUSED_LIMIT_RUB": Decimal(os.environ.get("COD_REFUSED_LIMIT_RUB", "5000")),
    # The storefront's page of a product ({sku} is replaced): customs want a
    # link to each good of an express parcel (FTS order No. 1861).
    "STOREFRONT_PRODUCT_URL": os.environ.get(
        "STOREFRONT_PRODUCT_URL", "https://shop.example/products/{sku}"
    ),
    # Recipients' names, phones, streets and identity documents of orders
    # delivered or cancelled longer ago than this are anonymised (152-FZ).
    "RECIPIENT_DATA_RETENTION_DAYS": int(os.environ.get("RECIPIENT_DATA_RETENTION_DAYS", "1095")),
    # The personal data policy a buyer consents to at registration.
    "PERSONAL_DATA_POLICY_VERSION": os.environ.get("PERSONAL_DATA_POLICY_VERSION", "2026-07-01"),
}
