"""Settings, all from environment variables.

The embedded default (no DATABASE_URL, no REDIS_URL) is SQLite with Celery eager: for trying
the software, not for GMP use. Production sets DEBUG=0, SECRET_KEY, ALLOWED_HOSTS,
DATABASE_URL (PostgreSQL) and REDIS_URL; `manage.py check --deploy` is then silent.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[2]


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not env_bool("MES_ALLOW_INSECURE_KEY", False):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production-0123456789abcdef"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
VAR_DIR = Path(os.environ.get("MES_VAR_DIR", BASE_DIR / "var"))
MES_APP_VERSION = os.environ.get("MES_APP_VERSION", "0.1.0")
MES_SITE_NAME = os.environ.get("MES_SITE_NAME", "Open MES")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "simple_history",
    "axes",
    "django_htmx",
    # platform kernel (layer 0)
    "mes.apps.MesConfig",
    "mes.accounts",
    "mes.audit",
    "mes.esign",
    "mes.diagnostic",
    # plant apps, lowest layer first
    "genealogy",
    "equipment",
    "quality",
    "recipes",
    "workorders",
    "batches",
    "scheduling",
    "erp_connectors",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mes.audit.middleware.AuditContextMiddleware",
    "mes.accounts.middleware.SessionPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    "mes.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "mes.urls"
WSGI_APPLICATION = "mes.wsgi.application"
ASGI_APPLICATION = "mes.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mes.context_processors.platform",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# server-side prepared statements for the hottest statements (mes/prepared.py); off behind a
# transaction-pooling proxy such as PgBouncer in transaction mode
MES_DB_PREPARED = env_bool("MES_DB_PREPARED", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The embedded default is for trying the software, not for GMP use (shown on every page).
MES_DATABASE_IS_GMP_GRADE = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Argon2 first (Django's recommendation), tuned so that one verification, which every
# e-signature costs, stays near 100 ms on a 2-core machine (see mes/accounts/hashers.py).
PASSWORD_HASHERS = [
    "mes.accounts.hashers.MesArgon2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password ageing and history (21 CFR 11.300(b)): a password older than the maximum age must be
# changed before the user continues or signs; the last N passwords cannot be reused. 0 disables.
MES_PASSWORD_MAX_AGE_DAYS = env_int("MES_PASSWORD_MAX_AGE_DAYS", 90)
MES_PASSWORD_HISTORY = env_int("MES_PASSWORD_HISTORY", 5)
# Accounts whose last access review is older than this are listed as due for review.
MES_ACCESS_REVIEW_DAYS = env_int("MES_ACCESS_REVIEW_DAYS", 180)
# Roles whose grant needs a second administrator's approval (P11-C2-05); "" turns it off.
MES_ROLES_NEEDING_SECOND_APPROVAL = env_list(
    "MES_ROLES_NEEDING_SECOND_APPROVAL", "QA Reviewer,Supervisor,Administrator"
)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions: idle timeout (shorter on shop-floor terminals) and an absolute limit.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
MES_IDLE_TIMEOUT_SECONDS = env_int("MES_IDLE_TIMEOUT_SECONDS", 30 * 60)
MES_TERMINAL_IDLE_TIMEOUT_SECONDS = env_int("MES_TERMINAL_IDLE_TIMEOUT_SECONDS", 10 * 60)
MES_SESSION_ABSOLUTE_LIMIT_SECONDS = env_int("MES_SESSION_ABSOLUTE_LIMIT_SECONDS", 12 * 60 * 60)
SESSION_COOKIE_AGE = MES_SESSION_ABSOLUTE_LIMIT_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Login lockout: by username and IP together (terminals share an address), 5 failures, 15 min.
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("MES_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("MES_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# JSON {"code": "account_locked"} for the API; ends the session of a user locked by signing.
AXES_LOCKOUT_CALLABLE = "mes.accounts.lockout.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"
AXES_IPWARE_PROXY_COUNT = env_int("AXES_PROXY_COUNT", 0)

# Email (administrator alerts: lockouts, audit-trail breaks)
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "mes@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = [
    (a.split(":")[0], a.split(":")[-1]) for a in env_list("MES_ADMINS", "") if ":" in a or "@" in a
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Security (production: DEBUG=0 makes these strict; `check --deploy` is silent)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("MES_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Cache and Celery: Redis when REDIS_URL is set, otherwise in-process (Celery eager).
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_BEAT_SCHEDULE["equipment-preventive-maintenance"] = {
    "task": "equipment.generate_preventive_maintenance",
    "schedule": timedelta(minutes=env_int("MES_PM_GENERATION_MINUTES", 60)),
}
CELERY_BEAT_SCHEDULE["quality-overdue-capa-reminders"] = {
    "task": "quality.remind_overdue_capa",
    "schedule": timedelta(hours=env_int("MES_CAPA_REMINDER_HOURS", 24)),
}

# ERP connectors: the outbox drain, the pull of inbound orders, reconciliation. Credentials by
# connection name from the environment (JSON), never in the database.
MES_ERP_CREDENTIALS: dict = json.loads(os.environ.get("MES_ERP_CREDENTIALS", "{}") or "{}")
MES_ERP_OUTBOX_MAX_ATTEMPTS = env_int("MES_ERP_OUTBOX_MAX_ATTEMPTS", 8)
MES_ERP_BACKOFF_BASE_SECONDS = float(os.environ.get("MES_ERP_BACKOFF_BASE_SECONDS", "5"))
MES_ERP_BACKOFF_CAP_SECONDS = float(os.environ.get("MES_ERP_BACKOFF_CAP_SECONDS", "3600"))
MES_ERP_OUTBOX_LEASE_SECONDS = env_int("MES_ERP_OUTBOX_LEASE_SECONDS", 120)
MES_ERP_DRAIN_SECONDS = env_int("MES_ERP_DRAIN_SECONDS", 60)
MES_ERP_DRAIN_BATCH = env_int("MES_ERP_DRAIN_BATCH", 50)
MES_ERP_TASK_TIME_LIMIT = env_int("MES_ERP_TASK_TIME_LIMIT", 300)
MES_ERP_DELIVER_ON_COMMIT = env_bool("MES_ERP_DELIVER_ON_COMMIT", True)
MES_ERP_BACKLOG_WARN_MINUTES = env_int("MES_ERP_BACKLOG_WARN_MINUTES", 15)
if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= MES_ERP_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must be above MES_ERP_TASK_TIME_LIMIT (the longest task), "
        "or a running task would be delivered to a second worker."
    )
CELERY_BEAT_SCHEDULE["erp-deliver-outbox"] = {
    "task": "erp_connectors.deliver_outbox",
    "schedule": timedelta(seconds=env_int("MES_ERP_DRAIN_EVERY_SECONDS", 30)),
}
CELERY_BEAT_SCHEDULE["erp-pull-orders"] = {
    "task": "erp_connectors.pull_all",
    "schedule": timedelta(minutes=env_int("MES_ERP_PULL_MINUTES", 5)),
}
CELERY_BEAT_SCHEDULE["erp-reconcile"] = {
    "task": "erp_connectors.reconcile",
    "schedule": timedelta(hours=env_int("MES_ERP_RECONCILE_HOURS", 6)),
}

# Audit trail checkpoints: Ed25519 key and the external append-only checkpoint log live
# outside the database.
MES_AUDIT_SIGNING_KEY_FILE = Path(
    os.environ.get("MES_AUDIT_SIGNING_KEY_FILE", VAR_DIR / "keys" / "audit-ed25519.pem")
)
MES_AUDIT_CHECKPOINT_LOG = Path(
    os.environ.get("MES_AUDIT_CHECKPOINT_LOG", VAR_DIR / "audit-checkpoints.jsonl")
)
MES_AUDIT_CHECKPOINT_MINUTES = env_int("MES_AUDIT_CHECKPOINT_MINUTES", 15)
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {
    "task": "audit.checkpoint_audit_trail",
    "schedule": timedelta(minutes=MES_AUDIT_CHECKPOINT_MINUTES),
}
CELERY_BEAT_SCHEDULE["audit-seal"] = {
    "task": "audit.seal_pending",
    "schedule": timedelta(seconds=env_int("MES_AUDIT_SEAL_SECONDS", 60)),
}
CELERY_BEAT_SCHEDULE["audit-verify"] = {
    "task": "audit.verify_audit_trail",
    "schedule": timedelta(hours=env_int("MES_AUDIT_VERIFY_HOURS", 24)),
}

# The API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mes.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mes.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Open MES API",
    "DESCRIPTION": "Manufacturing Execution System: process, discrete and mixed-mode plants.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "POSTPROCESSING_HOOKS": [
        "mes.api.schema.postprocess_schema_enums",
        "mes.api.schema.add_error_responses",
    ],
}

# django-simple-history: a UI convenience only (the authoritative trail is database-written).
SIMPLE_HISTORY_REVERT_DISABLED = True
SIMPLE_HISTORY_EDIT = False
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# django-guardian
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
