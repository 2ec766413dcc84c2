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
from urllib.parse import urlparse

import dj_database_url
from celery.schedules import crontab
from corsheaders.defaults import default_headers as cors_default_headers
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

from core import queues

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "amur-development-key-not-for-production"  # noqa: S105 - refused in production
# The Fernet key of "amur-dev-field-key-not-for-prod!": encrypts identity
# documents in development and tests; refused in production.
DEV_FIELD_ENCRYPTION_KEY = "YW11ci1kZXYtZmllbGQta2V5LW5vdC1mb3ItcHJvZCE="
# Signs the sandbox provider's notifications; published here, so refused in production.
DEV_SANDBOX_WEBHOOK_SECRET = "whsec_c2FuZGJveC1kZXZlbG9wbWVudC1vbmx5LXNlY3JldA=="  # noqa: S105


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = env_bool("AMUR_PRODUCTION", False)
# The compose demo: production settings on one machine, with the sandbox card
# provider (core.checks refuses it in production otherwise).
DEMO_STACK = env_bool("AMUR_DEMO_STACK", False)
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
    "django_prometheus",
    "rest_framework",
    # Kept for its table: migration accounts 0004 moved its tokens into knox's.
    "rest_framework.authtoken",
    "knox",
    "django_filters",
    "drf_spectacular",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "drf_spectacular_sidecar",
    "treebeard",
    "import_export",
    "imagekit",
    *AMUR_APPS,
]

MIDDLEWARE = [
    # First and last: the request counters and latency cover every middleware.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.request_ids.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before anything that may answer on its own (CommonMiddleware), so that a
    # preflight gets its CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "core.middleware.QueryLanguageMiddleware",
    "core.middleware.RequestGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the admin asks staff for a TOTP code too.
    "django_otp.middleware.OTPMiddleware",
    "core.middleware.StaffTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its answer.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

if PRODUCTION:
    # gunicorn serves the admin's and the API docs' static files itself.
    MIDDLEWARE.insert(3, "whitenoise.middleware.WhiteNoiseMiddleware")

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
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    # Reads that tolerate lag (core.replicas) go to the replica. Without one,
    # the alias names the primary and nothing is routed to it; tests turn
    # READ_REPLICA_ENABLED on against this mirror of the test database.
    DATABASES["replica"] = {
        **dj_database_url.parse(DATABASE_REPLICA_URL or DATABASE_URL, conn_max_age=60),
        "TEST": {"MIRROR": "default"},
    }
    # Behind PgBouncer in transaction pooling, consecutive transactions may
    # get different server connections: a server-side cursor (QuerySet.iterator)
    # would outlive its transaction's connection. Nothing else in Amur keeps
    # session state (no advisory locks, LISTEN, session SET or temp tables).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool(
        "DATABASE_TRANSACTION_POOLING", False
    )
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
READ_REPLICA_ENABLED = bool(DATABASE_REPLICA_URL)
DATABASE_ROUTERS = ["core.replicas.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Staff sign in to the admin with a password and a TOTP code (django-otp;
# devices under Django OTP > TOTP devices), in production by default (the
# demo's logins have no devices); ADMIN_LOCKOUT_FAILURES wrong passwords in a row for one
# account from one address lock it out for ADMIN_LOCKOUT_MINUTES (django-axes,
# the admin only: the API's token endpoint has its throttle).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ADMIN_OTP_REQUIRED = env_bool("ADMIN_OTP_REQUIRED", PRODUCTION)
AXES_ONLY_ADMIN_SITE = True
AXES_FAILURE_LIMIT = int(os.environ.get("ADMIN_LOCKOUT_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("ADMIN_LOCKOUT_MINUTES", "30")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
OTP_TOTP_ISSUER = "Amur"
AXES_VERBOSE = False

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
    # Proxies in front of the app that append to X-Forwarded-For: the client
    # is the address that many hops back. 0 (default): the connection's own
    # address, so a client cannot pick its throttle bucket by sending the header.
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# API tokens (django-rest-knox): only a SHA-512 digest is stored; each login
# issues a token that expires after API_TOKEN_TTL_HOURS and can be revoked.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=int(os.environ.get("API_TOKEN_TTL_HOURS", "720"))),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
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
        "ReturnStatusEnum": "shipping.models.ReturnStatus",
        "ReturnKindEnum": "shipping.models.ReturnKind",
        "PaymentStatusEnum": "payments.models.Payment.Status",
        "RefundStatusEnum": "payments.models.Refund.Status",
        # How a payment was made (card, SBP, cash), beside the order's card or cash.
        "PaymentKindEnum": "payments.models.Payment.Method",
        "PointKindEnum": "shipping.lastmile.models.PointKind",
        "DeliveryKindEnum": "shipping.lastmile.models.DeliveryKind",
    },
}

# Celery: with REDIS_URL the real broker; without it tasks run in this process.
REDIS_URL = os.environ.get("REDIS_URL", "")
# Throttle counts (and any other cache use) shared by every process and
# machine in services mode; per process in the embedded one.
CACHE_URL = os.environ.get("CACHE_URL", REDIS_URL)
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "amur",
        }
    }
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
# Redis hands an unacknowledged message to another worker after the
# visibility timeout: it stays above the longest countdown (ecommerce.queues).
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "visibility_timeout": queues.VISIBILITY_TIMEOUT_SECONDS,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS: dict[str, Any] = {
    "visibility_timeout": queues.VISIBILITY_TIMEOUT_SECONDS
}
# Redis behind Sentinel: REDIS_URL lists the sentinels,
# sentinel://host1:26379/0;sentinel://host2:26379/0, and REDIS_SENTINEL_MASTER
# names the master they watch; the broker, the results and the outbox's
# dispatch flag (notifications.services) all follow a failover.
REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER", "mymaster")
if REDIS_URL.startswith("sentinel://"):
    CELERY_BROKER_TRANSPORT_OPTIONS["master_name"] = REDIS_SENTINEL_MASTER
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["master_name"] = REDIS_SENTINEL_MASTER
# A queue per workload (ecommerce.queues); a worker without -Q takes them all.
CELERY_TASK_QUEUES = [Queue(name) for name in queues.QUEUES]
CELERY_TASK_DEFAULT_QUEUE = queues.DEFAULT.queue
CELERY_TASK_ROUTES = queues.routes()
CELERY_TASK_ANNOTATIONS = queues.time_limits()
CELERY_TASK_SOFT_TIME_LIMIT = queues.DEFAULT.soft_seconds
CELERY_TASK_TIME_LIMIT = queues.DEFAULT.hard_seconds
# One active beat however many run: RedBeat keeps the schedule and each
# entry's last run in Redis behind a lock, so a second beat waits as a
# standby and takes over within the lock's timeout if the first dies.
if REDIS_URL:
    CELERY_BEAT_SCHEDULER = "redbeat.RedBeatScheduler"
CELERY_REDBEAT_REDIS_URL = REDIS_URL
CELERY_REDBEAT_KEY_PREFIX = os.environ.get("REDBEAT_KEY_PREFIX", "amur:beat")
CELERY_REDBEAT_LOCK_TIMEOUT = 60
if REDIS_URL.startswith("sentinel://"):
    # RedBeat reads Sentinel from its own options, not from kombu's URL list.
    CELERY_REDBEAT_REDIS_URL = "redis-sentinel://"
    CELERY_REDBEAT_REDIS_OPTIONS = {
        "sentinels": [
            (urlparse(url).hostname, urlparse(url).port or 26379) for url in REDIS_URL.split(";")
        ],
        "service_name": REDIS_SENTINEL_MASTER,
    }
# The lock is renewed every tick: ticks must come well within its timeout.
CELERY_BEAT_MAX_LOOP_INTERVAL = 10
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "notifications.outbox_sweep", "schedule": timedelta(seconds=15)},
    # E-mails whose task was lost or whose attempt failed, once they are due.
    "emails-sweep": {"task": "notifications.emails_sweep", "schedule": timedelta(seconds=30)},
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
    # Carrier registrations and cancellations not yet answered, then Russian
    # Post's tracking (it pushes nothing); nightly, each carrier's points.
    "carrier-shipments-sweep": {
        "task": "shipping.carrier_shipments_run",
        "schedule": timedelta(minutes=1),
    },
    "carrier-tracking-poll": {
        "task": "shipping.carrier_tracking_poll",
        "schedule": timedelta(minutes=30),
    },
    "pickup-points-sync": {
        "task": "shipping.pickup_points_sync",
        "schedule": crontab(minute=40, hour=1),
    },
    "provider-calls-sweep": {
        "task": "commands.provider_calls_run",
        "schedule": timedelta(seconds=30),
    },
    "receipts-send": {"task": "payments.receipts_send", "schedule": timedelta(minutes=1)},
    "sandbox-notifications-sweep": {
        "task": "commands.sandbox_notifications_sweep",
        "schedule": timedelta(minutes=1),
    },
    # 01:30 in Moscow: the previous two days' cash, per courier.
    "cod-reconcile": {"task": "payments.cod_reconcile", "schedule": crontab(minute=30, hour=22)},
    "idempotency-purge": {"task": "core.idempotency_purge", "schedule": timedelta(hours=1)},
    "tokens-purge": {"task": "accounts.tokens_purge", "schedule": crontab(minute=20, hour=4)},
    "payables-release": {"task": "payments.payables_release", "schedule": timedelta(hours=1)},
    # Daily at 02:00 UTC: every closed week (Monday to Sunday, UTC) of the
    # last STATEMENT_CATCHUP_WEEKS that lacks its statements gets them, so a
    # missed Monday is made up the next day.
    "settlement-statements-weekly": {
        "task": "payments.statements_weekly",
        "schedule": crontab(minute=0, hour=2),
    },
    # 04:10 UTC: partitions created ahead, old ones archived and dropped.
    "partitions-maintain": {
        "task": "core.partitions_maintain",
        "schedule": crontab(minute=10, hour=4),
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

# One JSON object per line in production (LOG_FORMAT=json), plain text on a
# developer's console; both carry the request and task ids (core.request_ids).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if PRODUCTION else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.request_ids.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        },
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(task_id)s] %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# /metrics asks scrapers for this bearer token when it is set; production
# refuses to start without one (core.checks), the compose demo excepted.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# Error reporting, off unless SENTRY_DSN is set; personal data is scrubbed.
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    from core.sentry import sentry_init

    sentry_init(
        SENTRY_DSN,
        os.environ.get("SENTRY_ENVIRONMENT", "production" if PRODUCTION else "development"),
    )


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
    PICKUP_POINT_FEE_RUB: Decimal
    CDEK_API_URL: str
    CDEK_CLIENT_ID: str
    CDEK_CLIENT_SECRET: str
    CDEK_TARIFF_CODE: int
    RUSSIAN_POST_TRACKING_URL: str
    RUSSIAN_POST_BATCH_URL: str
    RUSSIAN_POST_LOGIN: str
    RUSSIAN_POST_PASSWORD: str
    CARRIER_TIMEOUT_SECONDS: float
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
    RECEIPT_TAX_SYSTEM_CODE: int
    RECEIPT_VAT_CODE_GOODS: int
    RECEIPT_VAT_CODE_SERVICES: int
    RECEIPT_AGENT_TYPE: str
    COD_RECEIPT_PROVIDER: str
    SBP_PAYMENT_TTL_MINUTES: int
    TRACKING_RETENTION_DAYS: int
    TRACKING_ARCHIVE_DIR: str
    OUTBOX_RETENTION_DAYS: int
    STATEMENT_CATCHUP_WEEKS: int


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
    # The last mile (shipping.lastmile): what delivery to a pickup point adds
    # to each parcel's shipping over the door (0: the same price).
    "PICKUP_POINT_FEE_RUB": Decimal(os.environ.get("PICKUP_POINT_FEE_RUB", "0")),
    # CDEK API v2 (OAuth client credentials). Unset: orders to CDEK points
    # wait, their shipments queued, and the CDEK webhook answers 404.
    "CDEK_API_URL": os.environ.get("CDEK_API_URL", "https://api.cdek.ru/v2").rstrip("/"),
    "CDEK_CLIENT_ID": os.environ.get("CDEK_CLIENT_ID", ""),
    "CDEK_CLIENT_SECRET": os.environ.get("CDEK_CLIENT_SECRET", ""),
    # CDEK's tariff for warehouse-to-pickup-point and -locker parcels.
    "CDEK_TARIFF_CODE": int(os.environ.get("CDEK_TARIFF_CODE", "136")),
    # Russian Post tracking: the single-item SOAP service and the batch
    # (ticket) service, with the login and password Russian Post issues.
    "RUSSIAN_POST_TRACKING_URL": os.environ.get(
        "RUSSIAN_POST_TRACKING_URL", "https://tracking.russianpost.ru/rtm34"
    ),
    "RUSSIAN_POST_BATCH_URL": os.environ.get(
        "RUSSIAN_POST_BATCH_URL", "https://tracking.russianpost.ru/fc"
    ),
    "RUSSIAN_POST_LOGIN": os.environ.get("RUSSIAN_POST_LOGIN", ""),
    "RUSSIAN_POST_PASSWORD": os.environ.get("RUSSIAN_POST_PASSWORD", ""),
    "CARRIER_TIMEOUT_SECONDS": float(os.environ.get("CARRIER_TIMEOUT_SECONDS", "10")),
    # Amur's public address, e.g. https://amur.example: the sandbox posts its
    # notifications there and YooKassa returns the buyer there. Empty: the
    # sandbox hands its notifications to the same verifying code in process.
    "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "").rstrip("/"),
    # Every sandbox call waits this long, as a slow acquirer would.
    "SANDBOX_LATENCY_SECONDS": float(os.environ.get("SANDBOX_LATENCY_SECONDS", "0")),
    "SANDBOX_WEBHOOK_SECRET": os.environ.get("SANDBOX_WEBHOOK_SECRET", DEV_SANDBOX_WEBHOOK_SECRET),
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
    # 54-FZ receipts (YooKassa's codes): the seller's tax system (tag 1055;
    # 1 is the general one), the VAT code of goods sold on merchants' behalf
    # and of Amur's own shipping and duty lines (tag 1199; 1 is "no VAT"),
    # and the agent type printed on goods lines (tag 1222).
    "RECEIPT_TAX_SYSTEM_CODE": int(os.environ.get("RECEIPT_TAX_SYSTEM_CODE", "1")),
    "RECEIPT_VAT_CODE_GOODS": int(os.environ.get("RECEIPT_VAT_CODE_GOODS", "1")),
    "RECEIPT_VAT_CODE_SERVICES": int(os.environ.get("RECEIPT_VAT_CODE_SERVICES", "1")),
    "RECEIPT_AGENT_TYPE": os.environ.get("RECEIPT_AGENT_TYPE", "commissioner"),
    # Cash taken by couriers is fiscalised by the courier service's register;
    # YooKassa registers receipts only for money it took itself.
    "COD_RECEIPT_PROVIDER": os.environ.get("COD_RECEIPT_PROVIDER", "sandbox"),
    # An SBP payment the buyer has not confirmed in this time is voided.
    "SBP_PAYMENT_TTL_MINUTES": int(os.environ.get("SBP_PAYMENT_TTL_MINUTES", "60")),
    # PostgreSQL partitions (core.partitions): tracking months older than this
    # are written to TRACKING_ARCHIVE_DIR (gzipped COPY) and dropped; outbox
    # events, webhook deliveries and attempts days older than
    # OUTBOX_RETENTION_DAYS are dropped (every delivery is final within hours).
    "TRACKING_RETENTION_DAYS": int(os.environ.get("TRACKING_RETENTION_DAYS", "730")),
    "TRACKING_ARCHIVE_DIR": os.environ.get("TRACKING_ARCHIVE_DIR", str(VAR_DIR / "archive")),
    "OUTBOX_RETENTION_DAYS": int(os.environ.get("OUTBOX_RETENTION_DAYS", "30")),
    # The weekly statements job looks back this many closed weeks for ones
    # still lacking their statement (a missed or failed run).
    "STATEMENT_CATCHUP_WEEKS": int(os.environ.get("STATEMENT_CATCHUP_WEEKS", "8")),
}
