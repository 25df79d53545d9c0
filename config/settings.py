"""Settings, all read from the environment (docs/architecture.md, "Configuration").

With nothing set this is the embedded dev default: SQLite, a filesystem broker, DEBUG on.
Set WAITPOINTS_ENV=production to refuse unsafe values (missing SECRET_KEY, DEBUG on).
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from waitpoints import conf as waitpoints_conf

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("WAITPOINTS_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = os.environ.get("WAITPOINTS_ENV", "development") == "production"
DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if PRODUCTION:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set in production.")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production.")
elif not SECRET_KEY:
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver"
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "waitpoints",
    "dashboard",
]

MIDDLEWARE = [
    "waitpoints.middleware.RequestIdMiddleware",
    "waitpoints.middleware.LengthRequiredMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'waitpoints.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The dev default is shared by web, worker and beat processes: wait for locks, don't fail.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
elif DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool(
    "DATABASE_PREPARED_STATEMENTS", True
):
    # Server-side parameter binding lets psycopg prepare a statement after its 5th execution on a
    # connection: the hot paths (create, complete, claim, journal) skip PostgreSQL's planning,
    # ~0.5 ms of a claim here. Turn off behind PgBouncer in transaction mode before 1.21.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:inbox"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
# WhiteNoise serves static files from gunicorn too (API docs, dashboard CSS/htmx); after
# `collectstatic` it serves the compressed, cached copies, and it falls back to the app folders.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SESSION_COOKIE_HTTPONLY = True

# --- Email (console backend in development) ---
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds per SMTP operation: a mail server that accepts and never answers fails the send
# (the email task retries it) instead of holding a worker forever.
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "waitpoints@localhost")

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["waitpoints.api.auth.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["waitpoints.api.auth.HasSecretKey"],
    "DEFAULT_PARSER_CLASSES": ["waitpoints.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "waitpoints.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Waitpoints API",
    "DESCRIPTION": "Waitpoint tokens, wire-compatible with Trigger.dev's waitpoint-token API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["waitpoints.api.schema.strip_optional_trailing_slash"],
    "ENUM_NAME_OVERRIDES": {
        "WaitpointStatusEnum": "waitpoints.models.WaitpointStatus",
        "RunStatusEnum": "waitpoints.models.RunStatus",
        "ErrorCodeEnum": "waitpoints.api.serializers.API_ERROR_CODES",
    },
}
CORS_URLS_REGEX = r"^/api/v1/waitpoints/tokens/[^/]+/complete/?$"
CORS_ALLOW_ALL_ORIGINS = True

# --- Waitpoints: every WAITPOINTS_* setting, defaults and checks in waitpoints/conf.py ---
_waitpoints_settings = waitpoints_conf.from_environment(os.environ)
globals().update(_waitpoints_settings)

# --- Celery ---
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's own filesystem transport can hand a worker a message its sender has not written
    # yet, and the worker dies (kombu issue #1551); this subclass writes atomically.
    CELERY_BROKER_TRANSPORT = "config.filesystem_broker:Transport"
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # kombu's default is ./control, relative to whatever directory a process started in.
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# A queue of its own lets several deployments (or test runs) share one broker database.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes the database connection around every task unless this is set,
# which costs a new connection per run resume (~20 ms). waitpoints.tasks applies Django's own
# policy instead (CONN_MAX_AGE, health checks) before and after each task.
CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "1000"))
CELERY_BEAT_SCHEDULE = {
    "expire-due-waitpoints": {
        "task": "waitpoints.tasks.sweep_due_waitpoints",
        "schedule": _waitpoints_settings["WAITPOINTS_SWEEP_INTERVAL_SECONDS"],
        "options": {"expires": 5},
    },
    "requeue-stalled-runs": {
        "task": "waitpoints.tasks.requeue_stalled_runs",
        "schedule": _waitpoints_settings["WAITPOINTS_STALLED_RUN_CHECK_SECONDS"],
        "options": {"expires": 30},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
