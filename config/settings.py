"""Settings, all read from the environment (docs/architecture.md, "Configuration").

With nothing set this is the embedded dev default: SQLite, a filesystem broker, DEBUG on.
Set WAITPOINTS_ENV=production to refuse unsafe values (missing SECRET_KEY, DEBUG on).
"""

import os
import secrets
import time
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


def development_secret_key(path: Path) -> str:
    """Development without SECRET_KEY: a random key made on first start and kept in `var/`
    (mode 0600), shared by web, worker and beat and stable across restarts. Never a constant:
    approval links are signed with it. Created with O_EXCL, so processes starting together
    agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process is writing it right now
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.05)
        raise ImproperlyConfigured(f"{path} is empty: delete it, or set SECRET_KEY") from None
    key = secrets.token_urlsafe(50)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


PRODUCTION = os.environ.get("WAITPOINTS_ENV", "development") == "production"
DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if PRODUCTION:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set in production.")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production.")
elif not SECRET_KEY:
    SECRET_KEY = development_secret_key(VAR_DIR / "secret-key")

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
    "axes",
    "waitpoints",
    "dashboard",
]

MIDDLEWARE = [
    "waitpoints.middleware.RequestIdMiddleware",
    "waitpoints.ops.metrics.HttpMetricsMiddleware",
    "waitpoints.middleware.LengthRequiredMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "waitpoints.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: answers a locked-out login attempt.
    "axes.middleware.AxesMiddleware",
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
# Login brute force (dashboard and admin): django-axes locks a username from an address after
# AXES_FAILURE_LIMIT wrong passwords, for AXES_COOLOFF_HOURS; a locked attempt is refused
# before any password hashing. `manage.py axes_reset` lifts every lock.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Behind a proxy, the client address is the proxy's unless it is told: AXES_IPWARE_* settings.
AXES_IPWARE_META_PRECEDENCE_ORDER = env_list("AXES_IP_HEADERS", "REMOTE_ADDR")
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

# --- HTTPS and browser policies (README, "Production") ---
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients):
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO. Never set it without such a proxy.
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"], "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# HSTS is opt-in: once a browser saw it, the host is HTTPS-only for that long.
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Scripts only from our own static files (the dashboard has no inline script and no eval: its
# refresh is plain JavaScript, htmx runs with allowEval off); inline styles are allowed for
# htmx's indicator style. Empty: no header.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)

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
# django-cors-headers' defaults, plus the headers Trigger.dev's SDK sends from a browser.
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "user-agent",
    "x-csrftoken",
    "x-requested-with",
    "trigger-version",
    "x-trigger-api-version",
    "x-trigger-source",
    "x-trigger-client",
    "x-trigger-branch",
    "x-trigger-request-idempotency-key",
    "x-trigger-realtime-streams-version",
    "x-trigger-worker",
    "x-trigger-engine-version",
    "x-trigger-span-parent-as-link",
    "x-trigger-sdk-operation",
    "x-trigger-sdk-credential-reason",
    "x-request-id",
)

# --- Waitpoints: every WAITPOINTS_* setting, defaults and checks in waitpoints/conf.py ---
_environ = dict(os.environ)
if PRODUCTION:
    # Production's defaults: the API docs behind a staff login, no browsable API.
    _environ.setdefault("WAITPOINTS_API_DOCS", "login")
    _environ.setdefault("WAITPOINTS_BROWSABLE_API", "0")
_waitpoints_settings = waitpoints_conf.from_environment(_environ)
globals().update(_waitpoints_settings)
if not _waitpoints_settings["WAITPOINTS_BROWSABLE_API"]:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]

# --- Cache: the rate limits' counters (and login lockouts' cache). Shared by every web process
# only when it is Redis: CACHE_URL=redis://host:6379/1 (REDIS_URL is read too). ---
_cache_url = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL", "")
if _cache_url.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_url,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")


def filesystem_broker_options(broker_dir: Path) -> dict:
    """kombu's filesystem transport, every folder under `broker_dir` (made if missing)."""
    (broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(broker_dir),
        "data_folder_out": str(broker_dir),
        "processed_folder": str(broker_dir / "processed"),
        "store_processed": False,
        # The exchange tables: kombu's default is "control" in the current directory.
        "control_folder": str(broker_dir / "control"),
        # kombu's default is 1 s: each hop (trigger -> execute, completion -> resume, a beat
        # sweep) waited up to a second, and a busy prefork worker took ~1 message per second.
        "polling_interval": 0.1,
    }


if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's own filesystem transport can hand a worker a message its sender has not written
    # yet, and the worker dies (kombu issue #1551); this subclass writes atomically.
    CELERY_BROKER_TRANSPORT = "config.filesystem_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR / "broker")
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
    "purge-expired": {
        "task": "waitpoints.tasks.purge_expired",
        "schedule": _waitpoints_settings["WAITPOINTS_RETENTION_INTERVAL_SECONDS"],
        "options": {"expires": 60},
    },
    # Safety net of the dashboard's undo window: decisions whose countdown message was lost.
    "apply-due-dashboard-decisions": {
        "task": "dashboard.sweep_pending_decisions",
        "schedule": 2.0,
        "options": {"expires": 10},
    },
    "send-due-reminders": {
        "task": "waitpoints.tasks.send_due_reminders",
        "schedule": _waitpoints_settings["WAITPOINTS_REMINDERS_SCAN_SECONDS"],
        "options": {"expires": 30},
    },
    "send-due-webhooks": {
        "task": "waitpoints.tasks.send_due_webhooks",
        "schedule": _waitpoints_settings["WAITPOINTS_WEBHOOKS_SCAN_SECONDS"],
        "options": {"expires": 30},
    },
}

LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json (got {LOG_FORMAT!r})")
if LOG_FORMAT == "json":
    # One access line per request, with its request id, environment, ids, via and duration.
    MIDDLEWARE.insert(1, "config.json_logs.RequestLogMiddleware")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Probe requests (/healthz, /readyz, /metrics) never reach the log, even when they fail.
    "filters": {"quiet_probes": {"()": "waitpoints.ops.health.QuietProbes"}},
    "formatters": {
        "text": {"format": "%(message)s"},
        "json": {"()": "config.json_logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["quiet_probes"],
            # LOG_FORMAT=json: one JSON object per line (README, "Logs").
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "loggers": {"django.request": {"filters": ["quiet_probes"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
